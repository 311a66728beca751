import { BatchProcessor, EventType, processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ChangeMessageVisibilityBatchCommand, ChangeMessageVisibilityCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type * as z from 'zod';
import { parseConfig } from '../config/parseConfig';
import { AlreadyAppliedError } from '../inbox/errors';
import { digestOf, type InboxClaim } from '../inbox/inbox';
import { instrument, withApiCallLog } from '../observability';
import { openPersonalFields, type OpenOptions } from '../privacy/personal';
import type { FieldSealer } from '../privacy/ports';
import { CONSUMER_ENV, ConsumerConfigSchema, type ConsumerConfig } from './consumerConfig';
import { decideFailure } from './decideFailure';
import { decodeMessage, type ConsumedEvent, type EventSchemas } from './decodeMessage';
import { GroupParkedError, PoisonMessageError } from './errors';
import { MessageDeadLetters } from './MessageDeadLetters';
import { generationGroup, ParkedGroups, REDRIVE_ATTRIBUTE, RELEASE_ATTRIBUTE, ReleaseMarkerSchema, type ParkState } from './ParkedGroups';

export interface ConsumerContext {
  /** 1 on the first delivery of this message, 2 on the second, … */
  readonly attempt: number;
  readonly logger: Logger;
  readonly lambdaContext: Context;
  /**
   * The claim on this message (inbox mode, the default): pass it to the ONE DynamoDB transaction that
   * applies the message's effect — `outbox.commit(changes, { inbox })`, `store.handle(id, command,
   * { inbox })` or `transactWrite(client, items, { inbox })`. Its item is written with the effect, so
   * a redelivered message finds it and changes nothing (`AlreadyAppliedError`, acknowledged).
   */
  readonly inbox: InboxClaim;
}

/**
 * How a consumer makes each message's effect happen once:
 * - `'inbox'` (default, for effects that are DynamoDB writes): the handler writes its effect together
 *   with `context.inbox` in one transaction. Nothing is applied twice, whatever crashes when.
 * - `'powertools'` (for effects outside DynamoDB: an HTTP call, an e-mail): Powertools idempotency
 *   records around the handler. A crash after the effect and before the record is COMPLETED applies
 *   it again once the in-progress lease expires — make such effects idempotent at their target too.
 * - `'handler'`: the handler is idempotent by itself (a projection's watermarks); no records at all,
 *   so a replay to rebuild a read model is applied again rather than swallowed as already seen.
 */
export type IdempotencyMode = 'inbox' | 'powertools' | 'handler';

/** One message as the consumer shell sees it once decoded. */
export interface DecodedMessage<M> {
  readonly message: M;
  /** The id the effect is recorded under (an event's `id`, a command's `commandId`). */
  readonly id: string;
  /** What the message says (`digestOf`); the same id with another digest is poison, not a duplicate. */
  readonly digest: string;
  /** Ids and types for the logs; never data. */
  readonly describe: Readonly<Record<string, string | number>>;
}

/** Any kind of message: how it is read, and what applying it does. */
export interface MessageConsumerDefinition<M> {
  /** Reads a message body; throws `PoisonMessageError` for one that can never be processed. */
  readonly decode: (body: string, config: ConsumerConfig) => DecodedMessage<M>;
  /** Applies one message; throw to retry with backoff, throw a poison error to dead-letter at once. */
  readonly apply: (message: M, context: ConsumerContext) => Promise<void>;
  /** @default 'inbox' */
  readonly idempotency?: IdempotencyMode;
}

export interface ConsumerDefinition<S extends EventSchemas> {
  /** The event types handled: type → zod schema of `data`. Anything else is poison. */
  readonly events: S;
  /**
   * Applies one event. Throw to retry with backoff; throw `PoisonMessageError` to dead-letter at once.
   * In inbox mode (the default) write the effect with `context.inbox` (see `ConsumerContext`).
   */
  readonly handler: (event: ConsumedEvent<S>, context: ConsumerContext) => Promise<void>;
  /**
   * Opens the events' personal fields (marked with `personal()`) before the handler sees them. An
   * erased subject's fields arrive as `null` (`onErased: 'redact'`, the default), or the message is
   * dead-lettered at once with `SubjectErasedError` (`'throw'`) — never retried.
   */
  readonly privacy?: { readonly sealer: FieldSealer } & OpenOptions;
  /** @default 'inbox' */
  readonly idempotency?: IdempotencyMode;
}

/** What the shell needs; built from the environment unless given (tests). */
export interface ConsumerDependencies {
  readonly config: ConsumerConfig;
  readonly sqs: SQSClient;
  readonly dynamodb: DynamoDBClient;
  readonly logger: Logger;
  readonly clock: () => Date;
}

/**
 * Turns one event handler into an SQS-triggered Lambda handler that is safe under duplicates,
 * crashes and poison: envelope and data validated with zod (poison → DLQ at once, with the reason);
 * each event's effect applied once (inbox by default); partial batch responses (FIFO: a failed
 * message holds back its group only); transient failures retried with exponential backoff and
 * jitter on the message's visibility, then dead-lettered with the last error.
 */
export function defineConsumer<S extends EventSchemas>(
  definition: ConsumerDefinition<S>,
  dependencies: Partial<ConsumerDependencies> = {},
): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
  const privacy = definition.privacy;
  return defineMessageConsumer<ConsumedEvent<S>>(
    {
      decode: (body, config) => {
        const sources = config[CONSUMER_ENV.eventSources];
        const event = decodeMessage(body, definition.events, sources ? { sources } : {});
        // The digest is of the event as sent (personal fields still sealed): no digest of personal data.
        return { message: event, id: event.id, digest: digestOf([event.source, event.type, event.subject, event.sequence, event.dataversion, event.data]), describe: { eventId: event.id, type: event.type } };
      },
      apply: async (event, context) => {
        const entry = definition.events[event.type];
        const schema = entry === undefined ? undefined : 'schema' in entry ? entry.schema : entry;
        const opened = privacy && schema ? { ...event, data: await openPersonalFields(schema as z.ZodType, event.data, privacy.sealer, privacy) } : event;
        await definition.handler(opened, context);
      },
      ...(definition.idempotency ? { idempotency: definition.idempotency } : {}),
    },
    dependencies,
  );
}

/** The consumer shell for any kind of message (events: `defineConsumer`; saga commands: `defineCommandConsumer`). */
export function defineMessageConsumer<M>(
  definition: MessageConsumerDefinition<M>,
  dependencies: Partial<ConsumerDependencies> = {},
): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
  const config = dependencies.config ?? parseConfig(ConsumerConfigSchema);
  const logger = dependencies.logger ?? new Logger();
  const clock = dependencies.clock ?? (() => new Date());
  const sqs = dependencies.sqs ?? instrument(new SQSClient({}));
  const dynamodb = dependencies.dynamodb ?? instrument(new DynamoDBClient({}));
  const stateTable = config[CONSUMER_ENV.idempotencyTableName];
  const dedupWindow = config[CONSUMER_ENV.dedupWindowSeconds];
  const deadLetters = new MessageDeadLetters(sqs, config[CONSUMER_ENV.deadLetterQueueUrl]);
  const parked = new ParkedGroups(dynamodb, stateTable);
  const mode = definition.idempotency ?? 'inbox';
  const policy = {
    maxAttempts: config[CONSUMER_ENV.maxAttempts],
    backoffBaseSeconds: config[CONSUMER_ENV.backoffBaseSeconds],
    backoffMaxSeconds: config[CONSUMER_ENV.backoffMaxSeconds],
  };

  const apply = async (_key: { id: string; digest: string }, decoded: DecodedMessage<M>, context: ConsumerContext) => {
    await definition.apply(decoded.message, context);
    return { applied: decoded.id };
  };
  const powertools =
    mode === 'powertools'
      ? new IdempotencyConfig({
          eventKeyJmesPath: 'id',
          // The same id with another payload is a different message reusing an id: an error, not a duplicate.
          payloadValidationJmesPath: 'digest',
          expiresAfterSeconds: dedupWindow === 'forever' ? 100 * 365 * 24 * 3600 : dedupWindow,
          throwOnNoIdempotencyKey: true,
        })
      : undefined;
  const applyOnce = powertools
    ? makeIdempotent(apply, { persistenceStore: new DynamoDBPersistenceLayer({ tableName: stateTable, awsSdkV3Client: dynamodb }), config: powertools })
    : apply;

  const claimOf = (decoded: DecodedMessage<M>): InboxClaim => ({
    tableName: stateTable,
    messageId: decoded.id,
    digest: decoded.digest,
    ...(dedupWindow === 'forever' ? {} : { expiresAt: Math.floor(clock().getTime() / 1000) + dedupWindow }),
  });

  /** Per invocation: the FIFO groups' parks (`null`: not parked; read once per group, updated when we park one). */
  type Batch = { readonly lambdaContext: Context; readonly retryDelays: Map<string, number>; readonly parkedGroups: Map<string, ParkState | null> };

  async function parkOf(group: string, batch: Batch): Promise<ParkState | null> {
    if (!batch.parkedGroups.has(group)) batch.parkedGroups.set(group, (await parked.get(group)) ?? null);
    return batch.parkedGroups.get(group)!;
  }

  /**
   * Whether a message of a parked group is diverted instead of applied: a live one always (it follows
   * the group's dead letters); a redriven one when its run already failed in this group (it follows
   * that run's failed message, in the run's own DLQ group).
   */
  const diverts = (park: ParkState | null, redriveRun: string | undefined): boolean => park !== null && (redriveRun === undefined || park.generations.includes(redriveRun));

  /** A release marker of the redrive tool: every redriven message before it in its group was applied. */
  async function reachRelease(record: SQSRecord, batch: Batch): Promise<void> {
    const marker = ReleaseMarkerSchema.safeParse(safeJson(record.body));
    if (!marker.success || marker.data.group !== record.attributes.MessageGroupId) {
      throw new PoisonMessageError('a release marker whose body does not name its own group');
    }
    const outcome = await parked.reachRelease(marker.data);
    if (outcome === 'released') batch.parkedGroups.set(marker.data.group, null);
    logger.info('release marker reached', { outcome, runId: marker.data.runId, pass: marker.data.pass });
  }

  async function processRecord(record: SQSRecord, batch: Batch): Promise<void> {
    const { lambdaContext, retryDelays } = batch;
    retryDelays.set(record.messageId, -1); // attempted here (not skipped by the FIFO processor)
    const attempt = Number(record.attributes.ApproximateReceiveCount) || 1;
    const group = record.attributes.MessageGroupId;
    const redriveRun = record.messageAttributes?.[REDRIVE_ATTRIBUTE]?.stringValue;
    let described: Readonly<Record<string, string | number>> = {};
    let diverting = false;
    /**
     * The DLQ group its dead letter goes to. A redriven message that fails (or follows one that did)
     * goes to its run's own: live messages diverted while it travelled back are ahead of it in the
     * group's, though newer.
     */
    const dlqGroup = group !== undefined && redriveRun !== undefined ? generationGroup(group, redriveRun) : group;
    try {
      if (record.messageAttributes?.[RELEASE_ATTRIBUTE] !== undefined) return await reachRelease(record, batch);
      // Order-preserving dead-lettering: a parked group's messages follow its dead letters, in order.
      if (group !== undefined && diverts(await parkOf(group, batch), redriveRun)) {
        diverting = await parked.beginDiversion(group, record.messageId);
        if (diverting) {
          await deadLetters.send(record, new GroupParkedError(group), attempt, dlqGroup);
          await parked.endDiversion(group, record.messageId);
          logger.warn('message diverted behind its parked group', { messageId: record.messageId, attempt });
          return;
        }
      }
      const decoded = definition.decode(record.body, config);
      described = decoded.describe;
      await applyOnce({ id: decoded.id, digest: decoded.digest }, decoded, { attempt, logger, lambdaContext, inbox: claimOf(decoded) });
      logger.debug('message applied', { ...described, attempt });
    } catch (error) {
      if (error instanceof AlreadyAppliedError) {
        logger.info('duplicate skipped: applied before', { ...described, attempt });
        return; // acknowledged: its effect is there, once
      }
      const decision = decideFailure(error, attempt, policy);
      const errorName = error instanceof Error ? error.name : 'UnknownError';
      if (decision.action === 'dead-letter') {
        if (group !== undefined && !diverting) {
          // Park first: once the message is in the DLQ, no later message of its group may pass it.
          await parked.park(group, `${errorName}: ${error instanceof Error ? error.message : String(error)}`, redriveRun);
          const generations = (await parkOf(group, batch))?.generations ?? [];
          batch.parkedGroups.set(group, { generations: redriveRun === undefined ? generations : [...generations, redriveRun] });
        }
        await deadLetters.send(record, error, attempt, dlqGroup);
        if (diverting && group !== undefined) await parked.endDiversion(group, record.messageId);
        logger.error('message dead-lettered', { messageId: record.messageId, ...described, errorName, reason: decision.reason, attempt });
        return; // acknowledged: it is in the DLQ now, with its reason
      }
      retryDelays.set(record.messageId, decision.visibilityTimeoutSeconds);
      logger.warn('message failed; will retry', { messageId: record.messageId, ...described, errorName, attempt, retryInSeconds: decision.visibilityTimeoutSeconds });
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
    powertools?.registerLambdaContext(lambdaContext);
    const batch: Batch = { lambdaContext, retryDelays: new Map(), parkedGroups: new Map() };
    const handle = (record: SQSRecord) => processRecord(record, batch);
    if (event.Records[0]?.attributes.MessageGroupId === undefined) {
      return processPartialResponse(event, handle, standard, { context: lambdaContext, throwOnFullBatchFailure: false });
    }
    // Which of the batch's groups are parked: one read for the batch (a failure here fails the batch: retried).
    const parkedNow = await parked.parkedAmong(event.Records.map((record) => record.attributes.MessageGroupId ?? ''));
    for (const record of event.Records) batch.parkedGroups.set(record.attributes.MessageGroupId ?? '', parkedNow.get(record.attributes.MessageGroupId ?? '') ?? null);
    const response = await processPartialResponse(event, handle, fifo, { context: lambdaContext, skipGroupOnError: true, throwOnFullBatchFailure: false });
    await delaySkipped(event.Records, new Set(response.batchItemFailures.map((f) => f.itemIdentifier)), batch.retryDelays);
    return response;
  });
}

function safeJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}
