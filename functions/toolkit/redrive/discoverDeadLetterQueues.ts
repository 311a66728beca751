import { LambdaClient, paginateListFunctions } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, GetQueueUrlCommand, paginateListQueues, type SQSClient } from '@aws-sdk/client-sqs';
import { CONSUMER_ENV } from '../consumer/consumerConfig';
import { RELAY_ENV } from '../relay/relayConfig';

/** A dead-letter queue of the deployment, and where its messages came from. */
export interface DeadLetterQueue {
  readonly url: string;
  readonly name: string;
  readonly kind: 'consumer' | 'relay' | 'queue';
  /** The queue its messages go back to on redrive (none for the relay's: its source is a stream). */
  readonly sourceQueueUrl?: string;
  /** A consumer's state table (idempotency records and parked FIFO groups). */
  readonly stateTableName?: string;
  /** The Lambda function that owns it, when one does. */
  readonly functionName?: string;
}

const nameOf = (url: string) => url.slice(url.lastIndexOf('/') + 1);

/**
 * Every dead-letter queue the deployment owns: consumers' and relays' (read from their functions'
 * environment, the contract the constructs set) and any other queue named in a redrive policy.
 */
export async function discoverDeadLetterQueues(sqs: SQSClient, lambda: LambdaClient): Promise<DeadLetterQueue[]> {
  const found = new Map<string, DeadLetterQueue>();
  for await (const page of paginateListFunctions({ client: lambda }, {})) {
    for (const fn of page.Functions ?? []) {
      const env = fn.Environment?.Variables ?? {};
      const consumerDlq = env[CONSUMER_ENV.deadLetterQueueUrl];
      if (consumerDlq) {
        found.set(consumerDlq, {
          url: consumerDlq,
          name: nameOf(consumerDlq),
          kind: 'consumer',
          ...(env[CONSUMER_ENV.queueUrl] ? { sourceQueueUrl: env[CONSUMER_ENV.queueUrl] } : {}),
          ...(env[CONSUMER_ENV.idempotencyTableName] ? { stateTableName: env[CONSUMER_ENV.idempotencyTableName] } : {}),
          ...(fn.FunctionName ? { functionName: fn.FunctionName } : {}),
        });
      }
      const relayDlq = env[RELAY_ENV.deadLetterQueueUrl];
      if (relayDlq) found.set(relayDlq, { url: relayDlq, name: nameOf(relayDlq), kind: 'relay', ...(fn.FunctionName ? { functionName: fn.FunctionName } : {}) });
    }
  }
  for await (const page of paginateListQueues({ client: sqs }, {})) {
    for (const url of page.QueueUrls ?? []) {
      const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['RedrivePolicy'] }));
      if (!Attributes?.RedrivePolicy) continue;
      const target = (JSON.parse(Attributes.RedrivePolicy) as { deadLetterTargetArn?: string }).deadLetterTargetArn ?? '';
      const dlqName = target.slice(target.lastIndexOf(':') + 1);
      const known = [...found.values()].find((q) => q.name === dlqName);
      if (known) continue;
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: dlqName }));
      if (QueueUrl) found.set(QueueUrl, { url: QueueUrl, name: dlqName, kind: 'queue', sourceQueueUrl: url });
    }
  }
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Finds a dead-letter queue by name or URL. */
export async function findDeadLetterQueue(sqs: SQSClient, lambda: LambdaClient, nameOrUrl: string): Promise<DeadLetterQueue> {
  const all = await discoverDeadLetterQueues(sqs, lambda);
  const match = all.find((q) => q.url === nameOrUrl || q.name === nameOrUrl);
  if (!match) throw new Error(`${nameOrUrl} is not a dead-letter queue of this deployment; known: ${all.map((q) => q.name).join(', ') || 'none'}`);
  return match;
}
