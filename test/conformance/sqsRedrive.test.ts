import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ListDeadLetterSourceQueuesCommand,
  ListMessageMoveTasksCommand,
  SendMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { eventually, unique } from '../support/eventually';
import { knownGap } from '../support/knownGap';

// AWS behaviour the redrive tool would use where present: a DLQ names its source queues, and a
// message move task moves a standard DLQ back. The tool falls back to scanning redrive policies and
// to receive/send/delete (test/integration/redrive.test.ts covers the fallback).
describe('SQS dead-letter queue APIs (conformance)', () => {
  const sqs = new SQSClient({});
  let dlqUrl = '';
  let sourceUrl = '';
  const arnOf = async (url: string) => (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;

  beforeAll(async () => {
    dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: unique('conf-dlq') }))).QueueUrl!;
    sourceUrl = (
      await sqs.send(new CreateQueueCommand({ QueueName: unique('conf-src'), Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: await arnOf(dlqUrl), maxReceiveCount: 3 }) } }))
    ).QueueUrl!;
  });
  afterAll(async () => {
    for (const url of [sourceUrl, dlqUrl]) await sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
  });

  knownGap('ListDeadLetterSourceQueues names the queues that dead-letter into a DLQ', 'discoverDeadLetterQueues reads the redrive policies and the functions’ environment instead', async () => {
    const { queueUrls } = await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlqUrl }));
    expect(queueUrls).toEqual([sourceUrl]);
  });

  knownGap('StartMessageMoveTask moves a standard DLQ’s messages back to a queue', 'redrive() falls back to receive/send/delete', async () => {
    await sqs.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: 'to move' }));
    await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: await arnOf(dlqUrl), DestinationArn: await arnOf(sourceUrl) }));
    await eventually(
      async () => (await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: await arnOf(dlqUrl) }))).Results?.[0]?.Status,
      (status) => status === 'COMPLETED',
      { what: 'the move task', timeoutMs: 20_000 },
    );
  });
});
