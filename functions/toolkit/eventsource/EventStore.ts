import { GetItemCommand, QueryCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import * as z from 'zod';
import { parseEvent, type EventEnvelope } from '../envelope';
import type { InboxClaim } from '../inbox/inbox';
import { ConcurrencyError, TransactionConflictError } from '../outbox/errors';
import { Outbox, type CommitGuard, type OutboxOptions } from '../outbox/Outbox';
import { OUTBOX, outboxPartitionKey, outboxSortKey } from '../outbox/outboxItem';
import type { CommitPut, NewEvent } from '../outbox/planCommit';
import { backoffDelay, sleep, type BackoffPolicy } from '../retry/backoff';
import { noUpcast, type Decider, type DomainEvent, type Emitted, type EventSchemas, type Upcast } from './Decider';
import { CorruptStreamError, InvalidSnapshotError, StreamConflictError } from './errors';
import { foldEvents, snapshotDue, toDomainEvent, type FoldDefinition } from './foldEvents';
import { checkStreamId, snapshotKey, SnapshotItemSchema, STREAM, streamHeadKey } from './streamItems';

export interface EventStoreOptions<C, S, E extends DomainEvent> extends Omit<OutboxOptions, 'retentionSeconds'> {
  /** The aggregate: what `load` folds with and `handle` decides with. */
  readonly decider: Decider<C, S, E>;
  /** The schema of each event type's data at its latest version; appends and loads are checked against it. */
  readonly events: EventSchemas<E>;
  /** The state's schema. A snapshot is stored as JSON and read back through it, so the state must be plain JSON. */
  readonly state: z.ZodType<S>;
  /** Snapshot the state whenever an append reaches a multiple of this many events. @default 50 */
  readonly snapshotEvery?: number;
  /**
   * Bump when the meaning of the state changes (same shape, different fold): snapshots of another
   * version are ignored and the stream is folded from its first event until the next snapshot.
   * @default 1
   */
  readonly snapshotVersion?: number;
  /** Lifts old event versions to the latest (a schema registry's upcasters). @default none */
  readonly upcast?: Upcast;
}

export interface AppendOptions<S> {
  /** Conditions on other items, checked in the same transaction (`Outbox` commit guards). */
  readonly guards?: readonly CommitGuard[];
  /** The caller's trace context; a new trace is started when absent. */
  readonly traceparent?: string;
  /**
   * The state at `expectedVersion`, as `load` returned it: spares a read when the append is due a
   * snapshot. When absent and a snapshot is due, the stream is loaded first.
   */
  readonly state?: S;
  /** A consumer's claim on the message it applies, written in the append's transaction (`Outbox` commit option). */
  readonly inbox?: InboxClaim;
}

export interface HandleOptions {
  /** Times a command is decided again on fresh state after a `ConcurrencyError`. @default 3 */
  readonly retries?: number;
  /** Delay before each retry: full jitter in [0, min(max, base · 2^(retry-1))]. @default 10 ms, 200 ms */
  readonly backoff?: Pick<BackoffPolicy, 'baseDelayMs' | 'maxDelayMs'>;
  readonly guards?: readonly CommitGuard[];
  readonly traceparent?: string;
  /**
   * A consumer's claim on the message it applies: written with the events, so a redelivered message
   * decides nothing twice (`AlreadyAppliedError`). A decision with no events writes nothing, claim included.
   */
  readonly inbox?: InboxClaim;
}

/** A stream as loaded: its state and version, and what it cost. */
export interface LoadedStream<S> {
  readonly state: S;
  /** The last event's sequence; 0 for a stream without events. What an append expects. */
  readonly version: number;
  /** Event items read from the log (after the snapshot): at most `snapshotEvery - 1` for one-event appends. */
  readonly eventsRead: number;
  /** The version of the snapshot the load started from; 0 when it started from the initial state. */
  readonly snapshotAt: number;
}

/** What `handle` did: the events it committed (none when the decider had nothing to do) and the state after them. */
export interface Handled<S> {
  readonly events: EventEnvelope[];
  readonly state: S;
  readonly version: number;
  /** Decisions made, the first one included. */
  readonly attempts: number;
}

const LogItemSchema = z.object({ [OUTBOX.envelopeAttribute]: z.string() });
const LAST_SEQUENCE = 10 ** 15 - 1;

/**
 * An event store over a service's outbox table: a stream's events ARE its outbox items (committed
 * once, relayed like any other event, kept for good), appended with an expected-version condition on
 * the stream's head item, so of two concurrent appends exactly one wins and the other gets a
 * `ConcurrencyError`. A load folds the latest snapshot and the events after it; snapshots are
 * written in the append's own transaction every `snapshotEvery` events.
 */
export class EventStore<C, S, E extends DomainEvent> {
  private readonly outbox: Outbox;
  private readonly fold: FoldDefinition<S, E>;
  private readonly snapshotEvery: number;
  private readonly snapshotVersion: number;

  constructor(private readonly options: EventStoreOptions<C, S, E>) {
    const { decider: _decider, events: _events, state: _state, snapshotEvery, snapshotVersion, upcast, ...outbox } = options;
    const problems: string[] = [];
    if (snapshotEvery !== undefined && (!Number.isSafeInteger(snapshotEvery) || snapshotEvery < 1)) problems.push('snapshotEvery must be a positive integer');
    if (snapshotVersion !== undefined && (!Number.isSafeInteger(snapshotVersion) || snapshotVersion < 1)) problems.push('snapshotVersion must be a positive integer');
    if (problems.length > 0) throw new RangeError(`EventStore: ${problems.join('; ')}`);
    // No retention: an event store's events are its source of truth and are kept for good.
    this.outbox = new Outbox(outbox);
    this.fold = { evolve: options.decider.evolve, events: options.events, upcast: upcast ?? noUpcast };
    this.snapshotEvery = snapshotEvery ?? 50;
    this.snapshotVersion = snapshotVersion ?? 1;
  }

  /**
   * The stream's state: the snapshot (if any, consistent read), then the events after it (one
   * consistent, paginated `Query`), each upcast, checked against its schema and folded with `evolve`.
   */
  async load(streamId: string): Promise<LoadedStream<S>> {
    checkStreamId(streamId);
    const snapshot = await this.readSnapshot(streamId);
    const from = snapshot ?? { state: this.options.decider.initialState, version: 0 };
    const events = await this.readEvents(streamId, from.version);
    const folded = foldEvents(this.fold, streamId, from, events);
    return { ...folded, eventsRead: events.length, snapshotAt: snapshot?.version ?? 0 };
  }

  /**
   * Appends events to a stream that is at `expectedVersion` (0: a new stream), in one transaction
   * with the head's version condition (and, when due, the snapshot). Returns the committed envelopes.
   * Throws `ConcurrencyError` when the stream has moved on, `InvalidEventError` for an event its
   * schema refuses (nothing is written), `GuardFailedError` for a guard that no longer holds.
   */
  async append(streamId: string, expectedVersion: number, events: readonly Emitted<E>[], options: AppendOptions<S> = {}): Promise<EventEnvelope[]> {
    checkStreamId(streamId);
    if (events.length === 0) return [];
    for (const event of events) toDomainEvent(streamId, event, this.fold.events, this.fold.upcast);
    const puts = snapshotDue(expectedVersion, expectedVersion + events.length, this.snapshotEvery)
      ? await this.snapshotPuts(streamId, expectedVersion, options)
      : undefined;
    try {
      return await this.outbox.commit(
        [{ id: streamId, key: streamHeadKey(streamId), expectedVersion, state: {}, events: events.map(toNewEvent), ...(puts ? { puts } : {}) }],
        { ...(options.guards ? { guards: options.guards } : {}), ...(options.traceparent ? { traceparent: options.traceparent } : {}), ...(options.inbox ? { inbox: options.inbox } : {}) },
      );
    } catch (error) {
      // Still contended after the commit's own retries: for a stream the same as a lost race — load and decide again.
      if (error instanceof TransactionConflictError) throw new StreamConflictError(streamId, expectedVersion, { cause: error });
      throw error;
    }
  }

  /**
   * Load → decide → append; on a `ConcurrencyError` loads the fresh state and decides again, at
   * most `retries` times (with jittered backoff), then rethrows. A `DomainRejection` from `decide`
   * and every other error propagate at once.
   */
  async handle(streamId: string, command: C, options: HandleOptions = {}): Promise<Handled<S>> {
    const retries = options.retries ?? 3;
    const policy: BackoffPolicy = { maxAttempts: retries + 1, baseDelayMs: 10, maxDelayMs: 200, ...options.backoff };
    for (let attempt = 1; ; attempt++) {
      const loaded = await this.load(streamId);
      const events = this.options.decider.decide(command, loaded.state);
      if (events.length === 0) return { events: [], state: loaded.state, version: loaded.version, attempts: attempt };
      try {
        const committed = await this.append(streamId, loaded.version, events, {
          state: loaded.state,
          ...(options.guards ? { guards: options.guards } : {}),
          ...(options.traceparent ? { traceparent: options.traceparent } : {}),
          ...(options.inbox ? { inbox: options.inbox } : {}),
        });
        return { events: committed, ...foldEvents(this.fold, streamId, loaded, committed), attempts: attempt };
      } catch (error) {
        if (!(error instanceof ConcurrencyError) || attempt > retries) throw error;
        await sleep(backoffDelay(policy, attempt));
      }
    }
  }

  /** The snapshot put: the state at `expectedVersion` folded with the events as committed (sealed). */
  private async snapshotPuts(streamId: string, expectedVersion: number, options: AppendOptions<S>): Promise<(committed: readonly EventEnvelope[]) => CommitPut[]> {
    let base: { state: S; version: number };
    if ('state' in options) {
      base = { state: options.state as S, version: expectedVersion };
    } else {
      const loaded = await this.load(streamId);
      if (loaded.version !== expectedVersion) throw new ConcurrencyError(streamId, expectedVersion, loaded.version === 0 ? undefined : loaded.version);
      base = loaded;
    }
    return (committed) => {
      const { state, version } = foldEvents(this.fold, streamId, base, committed);
      const json = JSON.stringify(state);
      const back = this.options.state.safeParse(json === undefined ? undefined : JSON.parse(json));
      if (!back.success) {
        throw new InvalidSnapshotError(streamId, back.error.issues.map((issue) => `${issue.path.join('.') || '(state)'}: ${issue.message}`));
      }
      return [{ item: { ...snapshotKey(streamId), [OUTBOX.versionAttribute]: version, [STREAM.stateAttribute]: json, [STREAM.snapshotVersionAttribute]: this.snapshotVersion } }];
    };
  }

  /** The snapshot to start from, or `undefined` when there is none usable (absent, another snapshot version, a state of another shape). */
  private async readSnapshot(streamId: string): Promise<{ state: S; version: number } | undefined> {
    const { Item } = await this.options.client.send(new GetItemCommand({ TableName: this.options.tableName, Key: marshall(snapshotKey(streamId)), ConsistentRead: true }));
    if (!Item) return undefined;
    const item = SnapshotItemSchema.safeParse(unmarshall(Item));
    if (!item.success) throw new CorruptStreamError(streamId, ['its snapshot item is malformed']);
    if (item.data.snapshotVersion !== this.snapshotVersion) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(item.data.state);
    } catch {
      throw new CorruptStreamError(streamId, ['its snapshot state is not JSON']);
    }
    const state = this.options.state.safeParse(json);
    return state.success ? { state: state.data, version: item.data.version } : undefined;
  }

  /** The stream's events after `after`, in sequence order: one consistent `Query`, every page. */
  private async readEvents(streamId: string, after: number): Promise<EventEnvelope[]> {
    const events: EventEnvelope[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.options.client.send(
        new QueryCommand({
          TableName: this.options.tableName,
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
          ExpressionAttributeNames: { '#pk': OUTBOX.partitionKey, '#sk': OUTBOX.sortKey },
          ExpressionAttributeValues: marshall({ ':pk': outboxPartitionKey(streamId), ':from': outboxSortKey(streamId, after + 1), ':to': outboxSortKey(streamId, LAST_SEQUENCE) }),
          ConsistentRead: true,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of page.Items ?? []) events.push(parseEvent(LogItemSchema.parse(unmarshall(item)).envelope));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return events;
  }
}

/** The outbox's event: the decider's, with the stream as its partition key (the default: the subject). */
function toNewEvent<E extends DomainEvent>(event: Emitted<E>): NewEvent {
  return {
    type: event.type,
    data: event.data,
    ...(event.dataversion === undefined ? {} : { dataversion: event.dataversion }),
    ...(event.dataschema === undefined ? {} : { dataschema: event.dataschema }),
    ...(event.dataSubject === undefined ? {} : { dataSubject: event.dataSubject }),
  };
}
