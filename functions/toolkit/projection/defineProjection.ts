import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type * as z from 'zod';
import { parseConfig } from '../config/parseConfig';
import { decodeMessage, defineConsumer, type ConsumedEvent, type ConsumerDefinition, type ConsumerDependencies, type EventSchemas } from '../consumer';
import type { EventEnvelope } from '../envelope';
import { openPersonalFields } from '../privacy/personal';
import type { BackoffPolicy } from '../retry/backoff';
import type { Applied } from './catchUp';
import { DynamoEventLog } from './DynamoEventLog';
import { DynamoProjectionStore } from './DynamoProjectionStore';
import type { EventLog, ProjectionStore } from './ports';
import { PROJECTION_ENV, ProjectionConfigSchema, type ProjectionConfig } from './projectionConfig';
import { Projector } from './Projector';
import { instrument } from '../observability';
import type { RowAttributes } from './projectionItem';

export interface ProjectionDefinition<S extends EventSchemas, T> {
  /** The event types projected: type → zod schema of `data` (as for `defineConsumer`). Anything else delivered is poison. */
  readonly events: S;
  /** A row's state before its first event. */
  readonly initial: (key: string) => T;
  /**
   * Folds one event into a row's state; pure (no clock, no I/O). Called once per event and row, in
   * sequence order per source — but sources interleave freely, so the result must not depend on
   * the order of events of *different* sources. May return `{ state, summary }`: numeric deltas
   * added to the projection's summary item atomically with the row (e.g. `{ placed: 1 }`).
   */
  readonly apply: (state: T, event: ConsumedEvent<S>) => Applied<T>;
  /** The row an event belongs to. @default its `partitionkey` */
  readonly key?: (event: ConsumedEvent<S>) => string;
  /** Validates rows' state when they are loaded. @default trusted as written */
  readonly state?: z.ZodType<T>;
  /** As for `defineConsumer`: personal fields opened before `apply` sees them (also for events read from the log). */
  readonly privacy?: ConsumerDefinition<S>['privacy'];
  /**
   * Top-level attributes written with each row, from its state: the key of a sparse index (e.g. the
   * stage of an open order, absent once it is closed) or a time to live (epoch seconds). Pure.
   * @default none
   */
  readonly attributes?: (state: T) => RowAttributes;
  /** Saves retried after losing a race to another delivery of the same row. @default 5 attempts, 20–500 ms */
  readonly conflictRetry?: BackoffPolicy;
}

export interface ProjectionDependencies<T> {
  readonly config: ProjectionConfig;
  readonly dynamodb: DynamoDBClient;
  readonly store: ProjectionStore<T>;
  readonly log: EventLog;
  readonly logger: Logger;
  /** Passed to `defineConsumer`. */
  readonly consumer: Partial<ConsumerDependencies>;
}

/**
 * A read model as an SQS-triggered Lambda handler, built on `defineConsumer` (poison to the DLQ,
 * backoff, partial batch failures): one row per key in the table `PROJECTION_TABLE`, robust to
 * duplicate, late and reordered deliveries. A delivery ahead of its row's watermark first reads the
 * missing events from its source's log (`PROJECTION_LOGS`, set by `EventConsumer`'s `replayLogs`),
 * so a row never skips an event the log still has; see `catchUp` for the rules.
 */
export function defineProjection<S extends EventSchemas, T>(
  definition: ProjectionDefinition<S, T>,
  dependencies: Partial<ProjectionDependencies<T>> = {},
): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
  const config = dependencies.config ?? parseConfig(ProjectionConfigSchema);
  const dynamodb = dependencies.dynamodb ?? dependencies.consumer?.dynamodb ?? instrument(new DynamoDBClient({}));
  const logger = dependencies.logger ?? dependencies.consumer?.logger ?? new Logger();
  const store = dependencies.store ?? new DynamoProjectionStore<T>(dynamodb, config[PROJECTION_ENV.table], definition.state, definition.attributes);
  const log = dependencies.log ?? new DynamoEventLog(dynamodb, config[PROJECTION_ENV.logs]);

  async function decode(envelope: EventEnvelope): Promise<ConsumedEvent<S> | undefined> {
    const entry = definition.events[envelope.type];
    if (entry === undefined) return undefined;
    const event = decodeMessage(JSON.stringify(envelope), definition.events);
    const privacy = definition.privacy;
    if (!privacy) return event;
    const schema = 'schema' in entry ? entry.schema : entry;
    return { ...event, data: await openPersonalFields(schema as z.ZodType, event.data, privacy.sealer, privacy) };
  }

  const projector = new Projector<T, ConsumedEvent<S>>({
    store,
    log,
    initial: definition.initial,
    apply: definition.apply,
    decode,
    ...(definition.key ? { key: definition.key } : {}),
    ...(definition.conflictRetry ? { conflictRetry: definition.conflictRetry } : {}),
  });

  return defineConsumer<S>(
    {
      events: definition.events,
      ...(definition.privacy ? { privacy: definition.privacy } : {}),
      // The watermarks make a projection idempotent; without idempotency records, a replay after
      // the table was emptied rebuilds it instead of being swallowed as "already seen".
      idempotency: 'handler',
      handler: async (event) => {
        const outcome = await projector.project(event);
        if (outcome.kind === 'duplicate') {
          logger.debug('event already projected', { eventId: event.id, type: event.type, watermark: outcome.watermark });
          return;
        }
        if (outcome.missing > 0) {
          // Counts and ids only: keys and data may be personal.
          logger.warn('events missing from the log (expired by retention); the row moved past them', {
            eventId: event.id,
            source: event.source,
            missing: outcome.missing,
            applied: outcome.applied,
          });
        }
        logger.debug('event projected', { eventId: event.id, type: event.type, applied: outcome.applied, skipped: outcome.skipped, conflicts: outcome.conflicts, revision: outcome.revision });
      },
    },
    { ...dependencies.consumer, dynamodb, logger },
  );
}
