import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import type { EventEnvelope } from '../envelope';
import { parseConfig } from '../config/parseConfig';
import { relayBatch, type RelayNotice } from './relayBatch';
import { RelayConfigSchema } from './relayConfig';
import { relayDependencies } from './relayDependencies';
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
  const deps = relayDependencies(
    config,
    { dynamodb: instrument(new DynamoDBClient({})), eventBridge: instrument(new EventBridgeClient({})), sqs: instrument(new SQSClient({})) },
    {
      ...(options.alsoPublish ? { alsoPublish: options.alsoPublish } : {}),
      onAttemptFailed: ({ target, attempt, failed, error }) =>
        logger.warn('publish attempt failed', { target, attempt, failedIds: failed.map((f) => f.id), codes: [...new Set(failed.map((f) => f.code))], error: error instanceof Error ? error.name : undefined }),
      onNotice: (notice) => logNotice(logger, notice),
    },
  );

  return withApiCallLog(async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const records = event.Records.map(toRelayRecord);
    const outcome = await relayBatch(records, deps);
    for (const record of records) {
      if ('poison' in record) logger.error('poison outbox record dead-lettered', { sequenceNumber: record.sequenceNumber, keys: record.poison.keys, reason: record.poison.errorName });
    }
    const counts = { records: records.length, delivered: outcome.delivered, deadLettered: outcome.deadLettered, alreadyPublished: outcome.alreadyPublished, filledFromLog: outcome.filledFromLog, blockedByGap: outcome.blockedByGap };
    if (outcome.firstFailedSequenceNumber === undefined) {
      logger.info('batch relayed', counts);
      return { batchItemFailures: [] };
    }
    logger.error('batch stopped at first unresolved record; it and later records will be retried in order', {
      ...counts,
      firstFailedSequenceNumber: outcome.firstFailedSequenceNumber,
      error: outcome.lastError instanceof Error ? { name: outcome.lastError.name, message: outcome.lastError.message } : String(outcome.lastError),
    });
    return { batchItemFailures: [{ itemIdentifier: outcome.firstFailedSequenceNumber }] };
  });
}

/** What the ordering did, in the log: keys and sequences, never payloads. */
export function logNotice(logger: Pick<Logger, 'info' | 'warn' | 'error'>, notice: RelayNotice): void {
  if (notice.kind === 'filled') {
    const { sequences } = notice;
    logger.info('events read from the outbox log to close a gap in the stream order', {
      partitionkey: notice.partitionkey,
      subject: notice.subject,
      // A stream without a cursor may fill thousands: the range and the count then.
      sequences: sequences.length <= 20 ? sequences : { first: sequences[0], last: sequences.at(-1), count: sequences.length },
    });
  } else if (notice.kind === 'gap') {
    logger.error('sequence gap the outbox log cannot fill: the records behind it are dead-lettered and nothing is published past it', {
      partitionkey: notice.partitionkey,
      subject: notice.subject,
      missing: notice.missing,
      why: notice.why,
      heldBack: notice.heldBack,
    });
  } else {
    logger.warn('cursors not written: they lag, so a later batch republishes (absorbed by FIFO deduplication and idempotent consumers)', {
      streams: notice.streams,
      error: notice.error instanceof Error ? notice.error.name : String(notice.error),
    });
  }
}
