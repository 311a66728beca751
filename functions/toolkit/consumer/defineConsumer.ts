import { BatchProcessor, EventType, processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ChangeMessageVisibilityBatchCommand, ChangeMessageVisibilityCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type * as z from 'zod';
import { parseConfig } from '../config/parseConfig';
import { CONSUMER_ENV, ConsumerConfigSchema, type ConsumerConfig } from './consumerConfig';
import { decideFailure } from './decideFailure';
import { decodeMessage, type ConsumedEvent, type EventSchemas } from './decodeMessage';
import { GroupParkedError } from './errors';
import { MessageDeadLetters } from './MessageDeadLetters';
import { openPersonalFields, type OpenOptions } from '../privacy/personal';
import type { FieldSealer } from '../privacy/ports';
import { ParkedGroups, REDRIVE_ATTRIBUTE } from './ParkedGroups';
import { instrument, withApiCallLog } from '../observability';

export interface ConsumerContext {
  /** 1 on the first delivery of this message, 2 on the second, … */
  readonly attempt: number;
  readonly logger: Logger;
  readonly lambdaContext: Context;
}

export interface ConsumerDefinition<S extends EventSchemas> {
  /** The event types handled: type → zod schema of `data`. Anything else is poison. */
  readonly events: S;
  /**
   * Applies one event. Called at most once per event id with success (Powertools idempotency);
   * throw to retry with backoff, throw `PoisonMessageError` to dead-letter at once.
   */
  readonly handler: (event: ConsumedEvent<S>, context: ConsumerContext) => Promise<void>;
  /**
   * Opens the events' personal fields (marked with `personal()`) before the handler sees them. An
   * erased subject's fields arrive as `null` (`onErased: 'redact'`, the default), or the message is
   * dead-lettered at once with `SubjectErasedError` (`'throw'`) — never retried.
   */
  readonly privacy?: { readonly sealer: FieldSealer } & OpenOptions;
  /**
   * How duplicates are made harmless. `'event-id'`: Powertools idempotency records (an event id is
   * applied once within the expiry). `'handler'`: the handler is idempotent by itself (e.g. a
   * projection's watermarks), so no records are kept — and an event replayed to rebuild a read
   * model is applied again rather than swallowed as already seen.
   * @default 'event-id'
   */
  readonly idempotency?: 'event-id' | 'handler';
}

/** What the shell needs; built from the environment unless given (tests). */
export interface ConsumerDependencies {
  readonly config: ConsumerConfig;
  readonly sqs: SQSClient;
  readonly dynamodb: DynamoDBClient;
  readonly logger: Logger;
}

/**
 * Turns one handler into an SQS-triggered Lambda handler that is safe under duplicates, crashes and
 * poison: envelope and data validated with zod (poison → DLQ at once, with the reason); effects
 * applied once per event id (Powertools idempotency on DynamoDB, payload validated); partial batch
 * responses (FIFO: a failed message holds back its group only); transient failures retried with
 * exponential backoff and jitter on the message's visibility, then dead-lettered with the last error.
 */
export function defineConsumer<S extends EventSchemas>(
  definition: ConsumerDefinition<S>,
  dependencies: Partial<ConsumerDependencies> = {},
): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
  const config = dependencies.config ?? parseConfig(ConsumerConfigSchema);
  const logger = dependencies.logger ?? new Logger();
  const sqs = dependencies.sqs ?? instrument(new SQSClient({}));
  const deadLetters = new MessageDeadLetters(sqs, config[CONSUMER_ENV.deadLetterQueueUrl]);
  const idempotency = new IdempotencyConfig({
    eventKeyJmesPath: 'id',
    // The same id with another payload is a different event reusing an id: an error, not a duplicate.
    payloadValidationJmesPath: '[source, type, subject, sequence, data]',
    expiresAfterSeconds: config[CONSUMER_ENV.idempotencyExpirySeconds],
    throwOnNoIdempotencyKey: true,
  });
  const dynamodb = dependencies.dynamodb ?? instrument(new DynamoDBClient({}));
  const persistenceStore = new DynamoDBPersistenceLayer({ tableName: config[CONSUMER_ENV.idempotencyTableName], awsSdkV3Client: dynamodb });
  const parked = new ParkedGroups(dynamodb, config[CONSUMER_ENV.idempotencyTableName]);
  const apply = async (event: ConsumedEvent<S>, context: ConsumerContext) => {
    await definition.handler(event, context);
    return { applied: event.id };
  };
  const applyOnce = definition.idempotency === 'handler' ? apply : makeIdempotent(apply, { persistenceStore, config: idempotency });
  const policy = {
    maxAttempts: config[CONSUMER_ENV.maxAttempts],
    backoffBaseSeconds: config[CONSUMER_ENV.backoffBaseSeconds],
    backoffMaxSeconds: config[CONSUMER_ENV.backoffMaxSeconds],
  };

  async function opened(event: ConsumedEvent<S>): Promise<ConsumedEvent<S>> {
    const privacy = definition.privacy;
    const entry = definition.events[event.type];
    if (!privacy || entry === undefined) return event;
    const schema = 'schema' in entry ? entry.schema : entry;
    return { ...event, data: await openPersonalFields(schema as z.ZodType, event.data, privacy.sealer, privacy) };
  }

  /** Per invocation: which FIFO groups are parked (read once per group, updated when we park one). */
  type Batch = { readonly lambdaContext: Context; readonly retryDelays: Map<string, number>; readonly parkedGroups: Map<string, boolean> };

  async function isParked(group: string, batch: Batch): Promise<boolean> {
    if (!batch.parkedGroups.has(group)) batch.parkedGroups.set(group, (await parked.get(group)) !== undefined);
    return batch.parkedGroups.get(group)!;
  }

  /** Order-preserving dead-lettering: a parked group's live messages follow its dead letter, in order. */
  async function divertIfParked(record: SQSRecord, attempt: number, batch: Batch): Promise<boolean> {
    const group = record.attributes.MessageGroupId;
    if (group === undefined || record.messageAttributes?.[REDRIVE_ATTRIBUTE] !== undefined) return false;
    if (!(await isParked(group, batch)) || !(await parked.beginDiversion(group, record.messageId))) return false;
    await deadLetters.send(record, new GroupParkedError(group), attempt);
    await parked.endDiversion(group, record.messageId);
    logger.warn('message diverted behind its parked group', { messageId: record.messageId, attempt });
    return true;
  }

  async function processRecord(record: SQSRecord, batch: Batch): Promise<void> {
    const { lambdaContext, retryDelays } = batch;
    retryDelays.set(record.messageId, -1); // attempted here (not skipped by the FIFO processor)
    const attempt = Number(record.attributes.ApproximateReceiveCount) || 1;
    let eventId: string | undefined;
    if (await divertIfParked(record, attempt, batch)) return;
    try {
      const event = await opened(decodeMessage(record.body, definition.events));
      eventId = event.id;
      await applyOnce(event, { attempt, logger, lambdaContext });
      logger.debug('event applied', { eventId, type: event.type, attempt });
    } catch (error) {
      const decision = decideFailure(error, attempt, policy);
      const errorName = error instanceof Error ? error.name : 'UnknownError';
      if (decision.action === 'dead-letter') {
        const group = record.attributes.MessageGroupId;
        if (group !== undefined) {
          // Park first: once the message is in the DLQ, no later message of its group may pass it.
          await parked.park(group, `${errorName}: ${error instanceof Error ? error.message : String(error)}`);
          batch.parkedGroups.set(group, true);
        }
        await deadLetters.send(record, error, attempt);
        logger.error('message dead-lettered', { messageId: record.messageId, eventId, errorName, reason: decision.reason, attempt });
        return; // acknowledged: it is in the DLQ now, with its reason
      }
      retryDelays.set(record.messageId, decision.visibilityTimeoutSeconds);
      logger.warn('event failed; will retry', { messageId: record.messageId, eventId, errorName, attempt, retryInSeconds: decision.visibilityTimeoutSeconds });
      await sqs
        .send(new ChangeMessageVisibilityCommand({ QueueUrl: config[CONSUMER_ENV.queueUrl], ReceiptHandle: record.receiptHandle, VisibilityTimeout: decision.visibilityTimeoutSeconds }))
        .catch((visibilityError: unknown) => logger.warn('could not set the retry delay; the queue visibility timeout applies', { messageId: record.messageId, error: String(visibilityError) }));
      throw error;
    }
  }

  const fifo = new SqsFifoPartialProcessorAsync();
  const standard = new BatchProcessor(EventType.SQS);
  /**
   * The FIFO processor fails a group's later messages without handing them to us; they would stay
   * invisible for the whole visibility timeout and hold the group long after the failed message's
   * backoff. Give them the same delay as the failed message before them in their group.
   */
  async function delaySkipped(records: readonly SQSRecord[], failedIds: ReadonlySet<string>, retryDelays: Map<string, number>): Promise<void> {
    const groupDelay = new Map<string, number>();
    const entries: Array<{ Id: string; ReceiptHandle: string; VisibilityTimeout: number }> = [];
    for (const record of records) {
      const group = record.attributes.MessageGroupId ?? '';
      const delay = retryDelays.get(record.messageId);
      if (delay !== undefined && delay >= 0) groupDelay.set(group, delay);
      if (delay === undefined && failedIds.has(record.messageId)) {
        entries.push({ Id: String(entries.length), ReceiptHandle: record.receiptHandle, VisibilityTimeout: groupDelay.get(group) ?? 0 });
      }
    }
    for (let start = 0; start < entries.length; start += 10) {
      await sqs
        .send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: config[CONSUMER_ENV.queueUrl], Entries: entries.slice(start, start + 10) }))
        .catch((error: unknown) => logger.warn('could not set the retry delay of held-back messages', { error: String(error) }));
    }
  }

  return withApiCallLog(async (event: SQSEvent, lambdaContext: Context): Promise<SQSBatchResponse> => {
    idempotency.registerLambdaContext(lambdaContext);
    const batch: Batch = { lambdaContext, retryDelays: new Map(), parkedGroups: new Map() };
    const { retryDelays } = batch;
    const handle = (record: SQSRecord) => processRecord(record, batch);
    if (event.Records[0]?.attributes.MessageGroupId === undefined) {
      return processPartialResponse(event, handle, standard, { context: lambdaContext, throwOnFullBatchFailure: false });
    }
    const response = await processPartialResponse(event, handle, fifo, { context: lambdaContext, skipGroupOnError: true, throwOnFullBatchFailure: false });
    await delaySkipped(event.Records, new Set(response.batchItemFailures.map((f) => f.itemIdentifier)), retryDelays);
    return response;
  });
}
