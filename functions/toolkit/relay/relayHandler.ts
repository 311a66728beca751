import { Logger } from '@aws-lambda-powertools/logger';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import type { EventEnvelope } from '../envelope';
import { parseConfig } from '../config/parseConfig';
import { sleep } from '../retry/backoff';
import { EventBridgeTarget } from './EventBridgeTarget';
import type { EventTarget } from './ports';
import { relayBatch } from './relayBatch';
import { RELAY_ENV, RelayConfigSchema } from './relayConfig';
import { SqsDeadLetterSink } from './SqsDeadLetterSink';
import { SqsFifoTarget } from './SqsFifoTarget';
import { toRelayRecord } from './toRelayRecord';
import { instrument, withApiCallLog } from '../observability';

export interface RelayHandlerOptions {
  /**
   * Extra copies of each committed event for the bus, e.g. during a schema migration
   * `registry.downcasts(['wallet.transaction.added'])`: the old version side by side with the new.
   * @default none
   */
  readonly alsoPublish?: (event: EventEnvelope) => readonly EventEnvelope[];
}

/**
 * The outbox relay's Lambda handler: DynamoDB stream (outbox INSERTs) → EventBridge bus and ordered
 * FIFO subscribers. The generic relay (`handler.ts`) is `relayHandler()`; a service that publishes
 * more (old versions side by side) has a relay file of its own, named by the outbox's `relay.entry`:
 *
 * ```ts
 * export const handler = relayHandler({ alsoPublish: walletRegistry.downcasts(['wallet.transaction.added']) });
 * ```
 */
export function relayHandler(options: RelayHandlerOptions = {}): (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse> {
  const config = parseConfig(RelayConfigSchema);
  const logger = new Logger({ serviceName: 'outbox-relay' });
  const sqs = instrument(new SQSClient({}));
  const busName = config[RELAY_ENV.eventBusName];
  const targets: EventTarget[] = [
    ...(busName ? [new EventBridgeTarget(instrument(new EventBridgeClient({})), busName)] : []),
    ...config[RELAY_ENV.orderedQueueUrls].map((url) => new SqsFifoTarget(sqs, url)),
  ];
  const deadLetters = new SqsDeadLetterSink(sqs, config[RELAY_ENV.deadLetterQueueUrl]);
  const policy = {
    maxAttempts: config[RELAY_ENV.maxAttempts],
    baseDelayMs: config[RELAY_ENV.baseDelayMs],
    maxDelayMs: config[RELAY_ENV.maxDelayMs],
  };

  return withApiCallLog(async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const records = event.Records.map(toRelayRecord);
    const outcome = await relayBatch(records, {
      targets,
      deadLetters,
      policy,
      sleep,
      ...(options.alsoPublish ? { alsoPublish: options.alsoPublish } : {}),
      onAttemptFailed: ({ target, attempt, failed, error }) =>
        logger.warn('publish attempt failed', { target, attempt, failedIds: failed.map((f) => f.id), codes: [...new Set(failed.map((f) => f.code))], error: error instanceof Error ? error.name : undefined }),
    });
    for (const record of records) {
      if ('poison' in record) logger.error('poison outbox record dead-lettered', { sequenceNumber: record.sequenceNumber, keys: record.poison.keys, reason: record.poison.errorName });
    }
    if (outcome.firstFailedSequenceNumber === undefined) {
      logger.info('batch relayed', { records: records.length, delivered: outcome.delivered, deadLettered: outcome.deadLettered });
      return { batchItemFailures: [] };
    }
    logger.error('batch stopped at first unresolved record; it and later records will be retried in order', {
      records: records.length,
      delivered: outcome.delivered,
      firstFailedSequenceNumber: outcome.firstFailedSequenceNumber,
      error: outcome.lastError instanceof Error ? { name: outcome.lastError.name, message: outcome.lastError.message } : String(outcome.lastError),
    });
    return { batchItemFailures: [{ itemIdentifier: outcome.firstFailedSequenceNumber }] };
  });
}
