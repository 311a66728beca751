import type { EventEnvelope } from '../envelope';
import { outboxPartitionKey, outboxSortKey } from '../outbox/outboxItem';
import type { Cursor, LoggedItem, PoisonRecord, StreamKey } from './ports';

/**
 * How much longer a cursor lives than the last event it covers (DynamoDB TTL, seconds). The log
 * read ignores expired items when it looks for a stream's start, so the margin only has to cover
 * the clocks of the writer (which set the events' `expiresAt`) and the relay disagreeing.
 */
export const CURSOR_TTL_MARGIN_SECONDS = 24 * 60 * 60;

/** One string per stream, for maps. */
export const streamId = (stream: StreamKey): string => JSON.stringify([stream.partitionkey, stream.subject]);

/** The stream an event belongs to. */
export const streamOf = (event: EventEnvelope): StreamKey => ({ partitionkey: event.partitionkey, subject: event.subject });

/** An event a stream record of this batch carries, with the record's place in the batch. */
export interface BatchEvent {
  readonly index: number;
  readonly event: EventEnvelope;
  readonly expiresAt?: number;
}

/** An event to publish, with the batch record it is accounted to (filled events: the record that showed the gap). */
export interface PlannedEvent {
  readonly index: number;
  readonly event: EventEnvelope;
  readonly expiresAt?: number;
  readonly fromLog: boolean;
}

/** A stream's events as the batch brings them, sorted by sequence, above its cursor. */
export interface StreamBatch {
  readonly stream: StreamKey;
  readonly cursor?: Cursor;
  /** Events above the cursor, by sequence, one per sequence. */
  readonly pending: readonly BatchEvent[];
  /** Records of this batch whose event is at or below the cursor: already published. */
  readonly alreadyPublished: number;
  /** The first record of the stream in the batch: where its events are published among the others. */
  readonly firstIndex: number;
}

/** Sorts one stream's batch events by sequence and drops those at or below its cursor (and repeats). */
export function streamBatch(stream: StreamKey, events: readonly BatchEvent[], cursor: Cursor | undefined): StreamBatch {
  const after = cursor?.sequence ?? 0;
  const bySequence = new Map<number, BatchEvent>();
  for (const item of events) {
    const sequence = Number(item.event.sequence);
    const seen = bySequence.get(sequence);
    if (!seen || item.index < seen.index) bySequence.set(sequence, item);
  }
  const pending = [...bySequence.entries()]
    .filter(([sequence]) => sequence > after)
    .sort(([a], [b]) => a - b)
    .map(([, item]) => item);
  return {
    stream,
    ...(cursor ? { cursor } : {}),
    pending,
    alreadyPublished: events.length - pending.length,
    firstIndex: Math.min(...events.map((e) => e.index)),
  };
}

/**
 * The sequences the log must be read for, as one range from the lowest missing to the highest, or
 * `undefined` when the batch continues the cursor without a hole. Without a cursor, everything below
 * the batch's first event is missing too: the stream starts at the lowest sequence still in the log.
 */
export function missingRange(batch: StreamBatch): { from: number; to: number } | undefined {
  const have = new Set(batch.pending.map((p) => Number(p.event.sequence)));
  const last = Number(batch.pending.at(-1)?.event.sequence ?? 0);
  const missing: number[] = [];
  for (let sequence = (batch.cursor?.sequence ?? 0) + 1; sequence < last; sequence++) if (!have.has(sequence)) missing.push(sequence);
  return missing.length === 0 ? undefined : { from: missing[0]!, to: missing.at(-1)! };
}

/** A hole in a stream that the log cannot fill: nothing past it is published. */
export interface StreamGap {
  readonly stream: StreamKey;
  readonly missing: number;
  /** Why: not in the log, or in it but not a readable event. */
  readonly why: string;
  /** The batch's records held back behind it, to dead-letter (keys and reason only). */
  readonly heldBack: ReadonlyArray<{ readonly index: number; readonly sequence: number; readonly record: PoisonRecord }>;
}

export interface StreamPlan {
  readonly stream: StreamKey;
  /** In sequence order: events filled from the log and the batch's own. */
  readonly publish: readonly PlannedEvent[];
  readonly gap?: StreamGap;
  readonly alreadyPublished: number;
  readonly cursor?: Cursor;
  readonly firstIndex: number;
}

/**
 * Orders one stream: from the cursor (or, without one, the lowest sequence still in the log and not
 * past its TTL) up to the batch's last event, each sequence from the batch or else from the log. A
 * sequence found in neither (or unreadable) is a gap: what follows it is held back. An event read
 * from the log is accounted to the first batch record above it: that record triggered the read, and
 * is retried if the event cannot be published. Pure.
 */
export function planStream(
  batch: StreamBatch,
  logged: readonly LoggedItem[],
  sequenceNumberOf: (index: number) => string,
  nowSeconds: number,
): StreamPlan {
  const base = { stream: batch.stream, alreadyPublished: batch.alreadyPublished, firstIndex: batch.firstIndex, ...(batch.cursor ? { cursor: batch.cursor } : {}) };
  if (batch.pending.length === 0) return { ...base, publish: [] };
  const fromBatch = new Map(batch.pending.map((p) => [Number(p.event.sequence), p]));
  const fromLog = new Map(logged.map((item) => [item.sequence, item]));
  const last = Number(batch.pending.at(-1)!.event.sequence);
  let start = (batch.cursor?.sequence ?? 0) + 1;
  if (!batch.cursor) {
    const live = logged.filter((item) => item.expiresAt === undefined || item.expiresAt > nowSeconds).map((item) => item.sequence);
    start = Math.min(...live, ...fromBatch.keys());
  }
  const triggerOf = (sequence: number): number => batch.pending.find((p) => Number(p.event.sequence) > sequence)!.index;

  const publish: PlannedEvent[] = [];
  for (let sequence = start; sequence <= last; sequence++) {
    const own = fromBatch.get(sequence);
    if (own) {
      publish.push({ index: own.index, event: own.event, fromLog: false, ...(own.expiresAt === undefined ? {} : { expiresAt: own.expiresAt }) });
      continue;
    }
    const item = fromLog.get(sequence);
    if (item && 'event' in item) {
      publish.push({ index: triggerOf(sequence), event: item.event, fromLog: true, ...(item.expiresAt === undefined ? {} : { expiresAt: item.expiresAt }) });
      continue;
    }
    const why = item ? `in the outbox log but not a readable event (${'unreadable' in item ? item.unreadable : ''})` : 'not in the outbox log (deleted, or expired)';
    const heldBack = batch.pending
      .filter((p) => Number(p.event.sequence) > sequence)
      .map((p) => ({ index: p.index, sequence: Number(p.event.sequence), record: heldBackRecord(batch.stream, sequence, why, p, sequenceNumberOf(p.index)) }));
    return { ...base, publish, gap: { stream: batch.stream, missing: sequence, why, heldBack } };
  }
  return { ...base, publish };
}

function heldBackRecord(stream: StreamKey, missing: number, why: string, held: BatchEvent, sequenceNumber: string): PoisonRecord {
  const sequence = Number(held.event.sequence);
  return {
    sequenceNumber,
    errorName: 'SequenceGapError',
    reason: `sequence ${missing} of subject ${stream.subject} (partition key ${stream.partitionkey}) is ${why}; sequence ${sequence} is not published past it`,
    keys: { pk: outboxPartitionKey(stream.partitionkey), sk: outboxSortKey(stream.subject, sequence) },
  };
}

/**
 * The cursor after publishing `published` (a prefix of the plan, in order): the last sequence, and a
 * TTL that outlives the last event it covers (none when that event is kept for good). A cursor's TTL
 * never shrinks.
 */
export function advancedCursor(plan: StreamPlan, published: readonly PlannedEvent[]): Cursor | undefined {
  const last = published.at(-1);
  if (!last) return undefined;
  const expiresAt =
    last.expiresAt === undefined || (plan.cursor !== undefined && plan.cursor.expiresAt === undefined)
      ? undefined
      : Math.max(last.expiresAt + CURSOR_TTL_MARGIN_SECONDS, plan.cursor?.expiresAt ?? 0);
  return { ...plan.stream, sequence: Number(last.event.sequence), ...(expiresAt === undefined ? {} : { expiresAt }) };
}
