import { buildEvent, type EventEnvelope } from '../envelope';
import { CommitTooLargeError, InvalidCommitError } from './errors';
import { OUTBOX, toOutboxItem } from './outboxItem';
import { estimateItemSize } from './itemSize';

/** A new domain event, before the outbox gives it an id, a sequence and a time. */
export interface NewEvent<T = unknown> {
  readonly type: string;
  readonly data: T;
  /** @default 1 */
  readonly dataversion?: number;
  readonly dataschema?: string;
  /** @default the aggregate id */
  readonly partitionkey?: string;
  /** The person the event's personal fields are about (sealed for them). @default the aggregate id */
  readonly dataSubject?: string;
}

/** One aggregate's change: its new state and the events that produced it. */
export interface AggregateChange {
  /** The aggregate id; the events' `subject`. */
  readonly id: string;
  /** Primary key of the aggregate's item, e.g. `{ pk: 'ORDER#o-1', sk: 'STATE' }`. */
  readonly key: Readonly<Record<string, string>>;
  /** The version the decision was made on; 0 for an aggregate that must not exist yet. */
  readonly expectedVersion: number;
  /** The new state's attributes (not the key, not the version). */
  readonly state: object;
  /** At least one event; each raises the version by one. */
  readonly events: readonly NewEvent[];
  /**
   * Further items written unconditionally in the same transaction, computed from this change's
   * events as committed (ids, sequences, personal fields sealed), e.g. an event-sourced stream's
   * snapshot of the state they lead to. Each counts towards the transaction's limits.
   */
  readonly puts?: (events: readonly EventEnvelope[]) => readonly CommitPut[];
}

/** An item put in the commit's transaction, unconditionally unless `condition` says otherwise. */
export interface CommitPut {
  /** @default the outbox table */
  readonly tableName?: string;
  /** The whole item, key included; not the key of the aggregate or of one of its events. */
  readonly item: Readonly<Record<string, unknown>>;
  /**
   * What the item must be for the put to happen (a DynamoDB condition expression on it), e.g. a
   * consumer's position in a stream: `attribute_not_exists(pk) OR lastSequence = :last`. When it
   * does not hold nothing is written and the commit throws `ConcurrencyError` (reload, decide again).
   * @default none
   */
  readonly condition?: PutCondition;
}

export interface PutCondition {
  readonly expression: string;
  readonly names?: Readonly<Record<string, string>>;
  readonly values?: Readonly<Record<string, unknown>>;
}

export interface CommitContext {
  readonly source: string;
  readonly now: Date;
  readonly newId: () => string;
  readonly traceparent: string;
  /** How long outbox items are kept; `undefined` keeps them for good (event-sourced services). */
  readonly retentionSeconds?: number;
}

/**
 * What a write must find: no item (a new aggregate or event), the aggregate at `version`, anything
 * (`none`: an unconditional put of `AggregateChange.puts`) or what a put's own condition says.
 */
export type WriteCondition =
  | { readonly kind: 'absent' }
  | { readonly kind: 'version'; readonly version: number }
  | { readonly kind: 'none' }
  | ({ readonly kind: 'expression' } & PutCondition);

export interface PlannedWrite {
  readonly item: Readonly<Record<string, unknown>>;
  readonly condition: WriteCondition;
  /** The aggregate this write belongs to (for conflict reports). */
  readonly aggregateId: string;
  readonly isEvent: boolean;
  /** An item of `AggregateChange.puts`. */
  readonly isPut?: boolean;
  /** @default the outbox table */
  readonly tableName?: string;
}

export interface CommitPlan {
  readonly writes: readonly PlannedWrite[];
  readonly events: readonly EventEnvelope[];
}

/** DynamoDB TransactWriteItems limits (AWS docs, "Amazon DynamoDB quotas"). */
export const TRANSACTION_LIMITS = { maxItems: 100, maxItemBytes: 400 * 1024, maxTotalBytes: 4 * 1024 * 1024 } as const;

/**
 * The largest envelope the relay can always publish: a PutEvents entry and a SendMessageBatch call
 * are at most 256 KB, and each adds its own bytes (Source, DetailType, time; message attributes) to
 * the envelope's, so 1 KB is kept for them.
 */
export const MAX_EVENT_BYTES = 255 * 1024;

/**
 * Plans one transaction: every aggregate item with its version condition, every event as an outbox
 * item. Pure; throws `InvalidCommitError` or `CommitTooLargeError` listing every problem.
 */
export function planCommit(changes: readonly AggregateChange[], ctx: CommitContext): CommitPlan {
  const problems: string[] = [];
  if (changes.length === 0) problems.push('no aggregate changes');
  const seen = new Set<string>();
  for (const change of changes) {
    if (seen.has(change.id)) problems.push(`aggregate ${change.id} appears twice`);
    seen.add(change.id);
    if (change.events.length === 0) problems.push(`aggregate ${change.id} has no events`);
    if (!Number.isSafeInteger(change.expectedVersion) || change.expectedVersion < 0) {
      problems.push(`aggregate ${change.id} expectedVersion must be a non-negative integer`);
    }
    for (const name of Object.keys(change.state)) {
      if (Object.hasOwn(change.key, name) || name === OUTBOX.versionAttribute) {
        problems.push(`aggregate ${change.id} state must not set key or version attribute "${name}"`);
      }
    }
  }
  if (problems.length > 0) throw new InvalidCommitError(problems);

  const expiresAt =
    ctx.retentionSeconds === undefined ? undefined : Math.floor(ctx.now.getTime() / 1000) + ctx.retentionSeconds;
  const writes: PlannedWrite[] = [];
  const events: EventEnvelope[] = [];
  for (const change of changes) {
    const newVersion = change.expectedVersion + change.events.length;
    writes.push({
      item: { ...change.state, ...change.key, [OUTBOX.versionAttribute]: newVersion },
      condition: change.expectedVersion === 0 ? { kind: 'absent' } : { kind: 'version', version: change.expectedVersion },
      aggregateId: change.id,
      isEvent: false,
    });
    const committed: EventEnvelope[] = [];
    change.events.forEach((newEvent, index) => {
      const event = buildEvent({
        id: ctx.newId(),
        source: ctx.source,
        type: newEvent.type,
        subject: change.id,
        sequence: change.expectedVersion + index + 1,
        time: ctx.now,
        traceparent: ctx.traceparent,
        data: newEvent.data,
        ...(newEvent.dataversion === undefined ? {} : { dataversion: newEvent.dataversion }),
        ...(newEvent.dataschema === undefined ? {} : { dataschema: newEvent.dataschema }),
        ...(newEvent.partitionkey === undefined ? {} : { partitionkey: newEvent.partitionkey }),
      });
      committed.push(event);
      writes.push({ item: toOutboxItem(event, expiresAt), condition: { kind: 'absent' }, aggregateId: change.id, isEvent: true });
    });
    events.push(...committed);
    for (const put of change.puts?.(committed) ?? []) {
      writes.push({
        item: put.item,
        condition: put.condition ? { kind: 'expression', ...put.condition } : { kind: 'none' },
        aggregateId: change.id,
        isEvent: false,
        isPut: true,
        ...(put.tableName === undefined ? {} : { tableName: put.tableName }),
      });
    }
  }

  checkPuts(writes);
  checkLimits(writes);
  return { writes, events };
}

/**
 * A put in the outbox table needs its string key, and must not write an item the commit writes
 * already (DynamoDB refuses two operations on one item). Other tables' keys are theirs to check.
 */
function checkPuts(writes: readonly PlannedWrite[]): void {
  const problems: string[] = [];
  const keys = new Set<string>();
  for (const write of writes) {
    if (write.tableName !== undefined) continue;
    const [pk, sk] = [write.item[OUTBOX.partitionKey], write.item[OUTBOX.sortKey]];
    const key = `${String(pk)}\u0000${String(sk)}`;
    if (write.isPut) {
      if (typeof pk !== 'string' || typeof sk !== 'string') problems.push(`an item put with aggregate ${write.aggregateId} has no string key (${OUTBOX.partitionKey}, ${OUTBOX.sortKey})`);
      else if (keys.has(key)) problems.push(`an item put with aggregate ${write.aggregateId} has the key of another item of the commit`);
    }
    keys.add(key);
  }
  if (problems.length > 0) throw new InvalidCommitError(problems);
}

function checkLimits(writes: readonly PlannedWrite[]): void {
  const problems: string[] = [];
  if (writes.length > TRANSACTION_LIMITS.maxItems) {
    const what = writes.some((write) => write.isPut) ? 'aggregates + events + puts' : 'aggregates + events';
    problems.push(`${writes.length} items (${what}), at most ${TRANSACTION_LIMITS.maxItems} per transaction`);
  }
  let total = 0;
  for (const write of writes) {
    const size = estimateItemSize(write.item);
    total += size;
    const envelope = write.item[OUTBOX.envelopeAttribute];
    if (write.isEvent && typeof envelope === 'string' && Buffer.byteLength(envelope) > MAX_EVENT_BYTES) {
      problems.push(`an event of aggregate ${write.aggregateId} is ${Buffer.byteLength(envelope)} bytes, at most ${MAX_EVENT_BYTES} per event`);
    }
    if (size > TRANSACTION_LIMITS.maxItemBytes) {
      const what = write.isEvent
        ? `an event of aggregate ${write.aggregateId}`
        : write.isPut
          ? `an item put with aggregate ${write.aggregateId}`
          : `aggregate ${write.aggregateId}`;
      problems.push(`${what} is ${size} bytes, at most ${TRANSACTION_LIMITS.maxItemBytes} per item`);
    }
  }
  if (total > TRANSACTION_LIMITS.maxTotalBytes) {
    problems.push(`${total} bytes in all, at most ${TRANSACTION_LIMITS.maxTotalBytes} per transaction`);
  }
  if (problems.length > 0) throw new CommitTooLargeError(problems);
}
