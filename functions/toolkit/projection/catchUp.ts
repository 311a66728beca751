/**
 * The pure core of a projection (read model): which events a row has seen, per source, and how an
 * incoming event moves it on. No SDK, no clock: the shell loads the row, reads the log and saves.
 *
 * A row keeps, per event source, the sequence of the last event it applied (its watermark). For an
 * incoming event of that source:
 * - `duplicate`: sequence ≤ watermark — already applied (a redelivery, a replay, a late copy);
 * - `apply`: sequence = watermark + 1, or the source has no log to read and sequence > watermark
 *   (without a log a gap cannot be told from events this consumer is not subscribed to);
 * - `gap`: sequence > watermark + 1 and the source has a log: the missing sequences are read from
 *   it and applied first, in order, then the event (`catchUp`).
 *
 * Sources are independent: each has its own watermark and events of different sources may be
 * applied in any order relative to each other. A projection's `apply` must therefore give the same
 * state whatever the interleaving of sources (commutative across sources); within one source it
 * sees every event in sequence order, exactly once.
 */

/** The event fields the core reads. */
export interface EventPosition {
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly partitionkey: string;
  /** The sequence extension: a positive decimal string. */
  readonly sequence: string;
}

/**
 * A logged event this row does not apply (a type the projection does not handle, or an event that
 * belongs to another row): it still moves the watermark, so the gap it filled stays filled.
 */
export interface SkippedEvent extends EventPosition {
  readonly skipped: true;
}

export interface ProjectionRow<S> {
  /** The row key (stored as `pk`): by default the events' partition key. */
  readonly key: string;
  readonly state: S;
  /** Per watermark id (see `watermarkId`): the sequence of the last event applied or skipped. */
  readonly watermarks: Readonly<Record<string, number>>;
  /** Events applied to this row: +1 per applied event, so it strictly increases with every change. */
  readonly revision: number;
  /** Optimistic concurrency: the stored version; 0 for a row not stored yet. */
  readonly version: number;
}

/** What `apply` returns: the new state, optionally with deltas to add to the projection's summary. */
export type Applied<S> = S | { readonly state: S; readonly summary?: Readonly<Record<string, number>> };
export type ApplyEvent<S, E> = (state: S, event: E) => Applied<S>;

/** The key of the one summary item; no row may use it. */
export const SUMMARY_KEY = '#SUMMARY';

export type Decision =
  | { readonly kind: 'duplicate'; readonly watermark: number }
  | { readonly kind: 'apply' }
  /** Sequences after `after` and before `before` are missing: read them from the log. */
  | { readonly kind: 'gap'; readonly after: number; readonly before: number };

/**
 * The watermark an event moves: its source, or `source@partitionkey` when the row is keyed by
 * something else than the partition key (then several partition keys' sequences meet in one row).
 */
export const watermarkId = (rowKey: string, event: Pick<EventPosition, 'source' | 'partitionkey'>): string =>
  event.partitionkey === rowKey ? event.source : `${event.source}@${event.partitionkey}`;

export const newRow = <S>(key: string, state: S): ProjectionRow<S> => ({ key, state, watermarks: {}, revision: 0, version: 0 });

/** Duplicate, apply or gap, for `event` on `row`; `hasLog`: whether the event's source has a log to read. */
export function decide(row: ProjectionRow<unknown>, event: EventPosition, hasLog: boolean): Decision {
  const sequence = Number(event.sequence);
  const watermark = row.watermarks[watermarkId(row.key, event)] ?? 0;
  if (sequence <= watermark) return { kind: 'duplicate', watermark };
  if (sequence === watermark + 1 || !hasLog) return { kind: 'apply' };
  return { kind: 'gap', after: watermark, before: sequence };
}

export interface CatchUpResult<S> {
  readonly row: ProjectionRow<S>;
  /** Deltas to add to the summary, summed over the applied events. */
  readonly summary: Readonly<Record<string, number>>;
  /** Events applied (the revision grew by this much). */
  readonly applied: number;
  /** Events passed over that were already applied. */
  readonly duplicates: number;
  /** Logged events that moved the watermark without being applied (`SkippedEvent`). */
  readonly skipped: number;
  /**
   * Sequences that were missing and not in the log either (expired by its retention): the row
   * moved past them. Counted only for sources with a log (`hasLog`); without one, gaps are normal.
   */
  readonly missing: number;
}

const isSkipped = (event: EventPosition): event is SkippedEvent => (event as Partial<SkippedEvent>).skipped === true;

/**
 * Applies `events` to `row` in the order given: for a gap, the log's events (ascending) and then the
 * incoming event. Each is applied only if it is past its watermark; a hole before it (events the
 * log no longer has) is counted in `missing` and passed over. Pure.
 */
export function catchUp<S, E extends EventPosition>(
  row: ProjectionRow<S>,
  events: readonly (E | SkippedEvent)[],
  apply: ApplyEvent<S, E>,
  hasLog: (source: string) => boolean = () => true,
): CatchUpResult<S> {
  let current = row;
  const summary: Record<string, number> = {};
  let applied = 0;
  let duplicates = 0;
  let skipped = 0;
  let missing = 0;
  for (const event of events) {
    const sequence = Number(event.sequence);
    const id = watermarkId(current.key, event);
    const watermark = current.watermarks[id] ?? 0;
    if (sequence <= watermark) {
      duplicates++;
      continue;
    }
    if (sequence > watermark + 1 && hasLog(event.source)) missing += sequence - watermark - 1;
    const watermarks = { ...current.watermarks, [id]: sequence };
    if (isSkipped(event)) {
      current = { ...current, watermarks };
      skipped++;
      continue;
    }
    const result = apply(current.state, event);
    const { state, summary: delta } = isWithSummary(result) ? result : { state: result, summary: undefined };
    for (const [name, value] of Object.entries(delta ?? {})) summary[name] = (summary[name] ?? 0) + value;
    current = { ...current, state, watermarks, revision: current.revision + 1 };
    applied++;
  }
  return { row: current, summary, applied, duplicates, skipped, missing };
}

/**
 * `{ state, summary? }` rather than a bare state. A projection whose state itself is an object
 * with exactly the keys `state` (and `summary`) must wrap it: `{ state: { state: … } }`.
 */
function isWithSummary<S>(value: Applied<S>): value is { readonly state: S; readonly summary?: Readonly<Record<string, number>> } {
  if (typeof value !== 'object' || value === null || !('state' in value)) return false;
  return Object.keys(value).every((name) => name === 'state' || name === 'summary');
}
