import type { EventEnvelope } from '../envelope';
import { backoffDelay, type BackoffPolicy } from '../retry/backoff';
import type { Cursor, CursorStore, DeadLetterSink, EventTarget, FailedEntry, LoggedItem, OutboxLog, PoisonRecord, StreamKey } from './ports';
import { advancedCursor, missingRange, planStream, streamBatch, streamId, streamOf, type BatchEvent, type PlannedEvent, type StreamPlan } from './streamOrder';

/** One stream record, as the relay sees it: a valid event (with its outbox item's TTL, if any) or poison. */
export type RelayRecord =
  | { readonly sequenceNumber: string; readonly event: EventEnvelope; readonly expiresAt?: number }
  | { readonly sequenceNumber: string; readonly poison: PoisonRecord };

export interface RelayDependencies {
  readonly targets: readonly EventTarget[];
  readonly deadLetters: DeadLetterSink;
  /** The outbox table as a log: the events of a stream the batch does not carry (yet). */
  readonly log: OutboxLog;
  /** The last sequence of each stream published to every target. */
  readonly cursors: CursorStore;
  /** Now, to tell a logged item past its TTL (not yet deleted) from a live one. */
  readonly clock: () => Date;
  readonly policy: BackoffPolicy;
  readonly sleep: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /** Told about each failed attempt, for logs and metrics (ids and codes only). */
  readonly onAttemptFailed?: (failure: AttemptFailure) => void;
  /** Told what the ordering did besides publishing: gaps filled or held, cursors not written. */
  readonly onNotice?: (notice: RelayNotice) => void;
  /**
   * Extra copies of a committed event to publish right after it, to the targets that receive copies
   * (the bus), e.g. its older version during a schema migration (`registry.downcasts([...])`). A copy
   * carries its own id, derived from the original's. If this throws, the record fails like an
   * undeliverable one: the batch stops there and the record is retried, then dead-lettered.
   * @default no copies
   */
  readonly alsoPublish?: (event: EventEnvelope) => readonly EventEnvelope[];
}

/** What the relay's ordering did, for the log (keys, sequences and counts only). */
export type RelayNotice =
  | { readonly kind: 'filled'; readonly partitionkey: string; readonly subject: string; readonly sequences: readonly number[] }
  | { readonly kind: 'gap'; readonly partitionkey: string; readonly subject: string; readonly missing: number; readonly why: string; readonly heldBack: readonly number[] }
  | { readonly kind: 'cursor-write-failed'; readonly streams: number; readonly error: unknown };

export interface AttemptFailure {
  readonly target: string;
  readonly attempt: number;
  readonly failed: readonly FailedEntry[];
  readonly error?: unknown;
}

export interface RelayOutcome {
  /** Per target, how many events it accepted in this invocation. */
  readonly delivered: Readonly<Record<string, number>>;
  /** Records sent to the dead-letter queue: poison, and records held back behind a gap. */
  readonly deadLettered: number;
  /** Records whose event was already published (at or below its stream's cursor): not sent again. */
  readonly alreadyPublished: number;
  /** Events the batch did not carry, read from the log to close a gap, and published. */
  readonly filledFromLog: number;
  /** Records held back (dead-lettered) because an earlier sequence of their stream is not in the log. */
  readonly blockedByGap: number;
  /**
   * The stream sequence number of the first record that could not be handled. That record and every
   * later one must be retried, in order; `undefined` when the whole batch is done. An event read from
   * the log belongs to the record that triggered the read.
   */
  readonly firstFailedSequenceNumber?: string;
  readonly lastError?: unknown;
}

interface Failure {
  readonly index: number;
  readonly error?: unknown;
}

/**
 * Publishes a stream batch to every target, each stream (partition key + subject) in `sequence`
 * order, never past a gap, in as few calls as the targets allow. It does not trust the stream's order
 * across items: a transaction's records, or consecutive transactions', may come in any order and in
 * different batches (AWS: "stream consumers should not assume transactional atomicity or ordering
 * guarantees").
 *
 * 1. Reads the cursors of the batch's streams (one consistent BatchGetItem per 100 streams).
 * 2. Per stream: sorts its events by sequence, drops those at or below its cursor (published), and
 *    when the next sequence is not in the batch reads the missing ones from the outbox log (one
 *    consistent Query). Every item of a committed transaction is durable before any of its stream
 *    records is seen, and version n+1 commits only after n did: a missing event IS in the log, unless
 *    it was deleted or expired — then it is a gap that cannot be filled, and the records behind it are
 *    dead-lettered (keys and reason), never published past it.
 * 3. Publishes: failed entries alone are retried with exponential backoff and jitter; what still
 *    fails after the last attempt makes the batch stop at the earliest record holding an unpublished
 *    event (so the shard retries it and what follows, in order). Poison records go to the dead-letter
 *    sink at once.
 * 4. Writes each advanced cursor: the last sequence published to every target.
 */
export async function relayBatch(records: readonly RelayRecord[], deps: RelayDependencies): Promise<RelayOutcome> {
  const byStream = new Map<string, { stream: StreamKey; events: BatchEvent[] }>();
  const poison: Array<{ index: number; poison: PoisonRecord }> = [];
  records.forEach((record, index) => {
    if ('poison' in record) return poison.push({ index, poison: record.poison });
    const stream = streamOf(record.event);
    const id = streamId(stream);
    if (!byStream.has(id)) byStream.set(id, { stream, events: [] });
    byStream.get(id)!.events.push({ index, event: record.event, ...(record.expiresAt === undefined ? {} : { expiresAt: record.expiresAt }) });
  });
  const delivered: Record<string, number> = Object.fromEntries(deps.targets.map((t) => [t.name, 0]));
  const counts = { alreadyPublished: 0, filledFromLog: 0, blockedByGap: 0 };
  const outcome = (failures: Failure[], deadLettered: number): RelayOutcome => {
    const first = [...failures].sort((a, b) => a.index - b.index)[0];
    return {
      delivered,
      deadLettered,
      ...counts,
      ...(first ? { firstFailedSequenceNumber: records[first.index]?.sequenceNumber, lastError: first.error } : {}),
    };
  };

  // 1. Cursors. Without them nothing can be ordered: the whole batch is retried.
  const streams = [...byStream.values()];
  let cursors: Map<string, Cursor>;
  try {
    cursors = new Map(streams.length === 0 ? [] : (await deps.cursors.get(streams.map((s) => s.stream))).map((c) => [streamId(c), c]));
  } catch (error) {
    return outcome([{ index: 0, error }], 0);
  }

  // 2. Each stream in sequence order, gaps filled from the log.
  const failures: Failure[] = [];
  const nowSeconds = Math.floor(deps.clock().getTime() / 1000);
  const sequenceNumberOf = (index: number) => records[index]!.sequenceNumber;
  const plans = (
    await Promise.all(
      streams.map(async ({ stream, events }): Promise<StreamPlan | undefined> => {
        const batch = streamBatch(stream, events, cursors.get(streamId(stream)));
        counts.alreadyPublished += batch.alreadyPublished;
        const range = missingRange(batch);
        let logged: LoggedItem[] = [];
        if (range) {
          try {
            logged = await deps.log.read(stream, range.from, range.to);
          } catch (error) {
            failures.push({ index: Math.min(...batch.pending.map((p) => p.index)), error });
            return undefined;
          }
        }
        return planStream(batch, logged, sequenceNumberOf, nowSeconds);
      }),
    )
  )
    .filter((plan): plan is StreamPlan => plan !== undefined)
    .sort((a, b) => a.firstIndex - b.firstIndex);

  const held: Array<{ index: number; poison: PoisonRecord }> = [];
  for (const plan of plans) {
    const filled = plan.publish.filter((p) => p.fromLog);
    counts.filledFromLog += filled.length;
    if (filled.length > 0) deps.onNotice?.({ kind: 'filled', ...plan.stream, sequences: filled.map((p) => Number(p.event.sequence)) });
    if (!plan.gap) continue;
    counts.blockedByGap += plan.gap.heldBack.length;
    for (const { index, record } of plan.gap.heldBack) held.push({ index, poison: record });
    deps.onNotice?.({ kind: 'gap', ...plan.stream, missing: plan.gap.missing, why: plan.gap.why, heldBack: plan.gap.heldBack.map((h) => h.sequence) });
  }

  // 3. Publish (each stream's events in order, streams by their first record), dead-letter poison and held records.
  const events = plans.flatMap((plan) => plan.publish.map((p) => ({ index: p.index, event: p.event })));
  const toDeadLetter = [...poison, ...held].sort((a, b) => a.index - b.index);
  let deadLettered = 0;
  const deadLettersDone = deadLetter(toDeadLetter, deps).then((failure) => {
    if (failure) failures.push(failure);
    else deadLettered = toDeadLetter.length;
  });
  const accepted = new Map<EventTarget, Set<string>>();
  const targetsDone = deps.targets.map(async (target) => {
    const planned = target.receivesCopies && deps.alsoPublish ? withCopies(events, deps.alsoPublish) : { events: events.map((e) => ({ ...e, origin: e.event.id })) };
    const result = await deliver(target, planned.events, deps);
    delivered[target.name] = result.delivered;
    accepted.set(target, result.acceptedOrigins);
    if (result.failure) failures.push(result.failure);
    if (planned.failure) failures.push(planned.failure);
  });
  await Promise.all([deadLettersDone, ...targetsDone]);

  // 4. Cursors: each stream's longest prefix that every target accepted. Written after publishing, a
  // cursor can only lag what was published (a crash or a failed write here), never lead it; lagging
  // only republishes, which FIFO deduplication and idempotent consumers absorb. So BatchWriteItem
  // without conditions is enough, and a failed write does not fail the batch.
  const advanced = plans.flatMap((plan) => {
    const published: PlannedEvent[] = [];
    for (const planned of plan.publish) {
      if (!deps.targets.every((target) => accepted.get(target)?.has(planned.event.id))) break;
      published.push(planned);
    }
    return advancedCursor(plan, published) ?? [];
  });
  if (advanced.length > 0) {
    try {
      await deps.cursors.put(advanced);
    } catch (error) {
      deps.onNotice?.({ kind: 'cursor-write-failed', streams: advanced.length, error });
    }
  }
  return outcome(failures, deadLettered);
}

async function deadLetter(
  poison: ReadonlyArray<{ index: number; poison: PoisonRecord }>,
  deps: RelayDependencies,
): Promise<{ index: number; error: unknown } | undefined> {
  if (poison.length === 0) return undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      await deps.deadLetters.send(poison.map((p) => p.poison));
      return undefined;
    } catch (error) {
      deps.onAttemptFailed?.({ target: 'dead-letter-queue', attempt, failed: [], error });
      if (attempt >= deps.policy.maxAttempts) return { index: poison[0]!.index, error };
      await deps.sleep(backoffDelay(deps.policy, attempt, deps.random));
    }
  }
}

/** Each event followed by its copies (same record index); stops at the first event whose copies cannot be made. */
function withCopies(
  events: ReadonlyArray<{ index: number; event: EventEnvelope }>,
  alsoPublish: (event: EventEnvelope) => readonly EventEnvelope[],
): { events: Entry[]; failure?: { index: number; error: unknown } } {
  const out: Entry[] = [];
  for (const item of events) {
    let copies: readonly EventEnvelope[];
    try {
      copies = alsoPublish(item.event);
    } catch (error) {
      return { events: out, failure: { index: item.index, error } };
    }
    const origin = item.event.id;
    out.push({ ...item, origin }, ...copies.map((event) => ({ index: item.index, event, origin })));
  }
  return { events: out };
}

/** An entry to send: an event or a copy of one (`origin`: the committed event's id). */
interface Entry {
  readonly index: number;
  readonly event: EventEnvelope;
  readonly origin: string;
}

/**
 * Sends the entries to one target chunk by chunk, in order; stops at the first chunk it cannot
 * finish and reports the earliest record not delivered (in that chunk or a later one). Returns the
 * committed events whose every entry (the event and its copies) the target accepted.
 */
async function deliver(
  target: EventTarget,
  entries: readonly Entry[],
  deps: RelayDependencies,
): Promise<{ delivered: number; acceptedOrigins: Set<string>; failure?: Failure }> {
  let delivered = 0;
  const notAccepted = new Set<string>();
  const sent = new Set<string>();
  const acceptedOrigins = () => new Set([...sent].filter((origin) => !notAccepted.has(origin)));
  const chunks = chunksFor(target, entries);
  for (const [c, chunk] of chunks.entries()) {
    let pending = chunk;
    for (let attempt = 1; pending.length > 0; attempt++) {
      let failed: FailedEntry[];
      let error: unknown;
      try {
        failed = await target.publish(pending.map((p) => p.event));
      } catch (caught) {
        error = caught;
        failed = pending.map((p) => ({ id: p.event.id, code: errorName(caught), message: 'call failed' }));
      }
      const failedIds = new Set(failed.map((f) => f.id));
      delivered += pending.length - pending.filter((p) => failedIds.has(p.event.id)).length;
      for (const p of pending) sent.add(p.origin);
      pending = pending.filter((p) => failedIds.has(p.event.id));
      if (pending.length === 0) break;
      deps.onAttemptFailed?.({ target: target.name, attempt, failed, error });
      if (attempt >= deps.policy.maxAttempts) {
        const undelivered = [...pending, ...chunks.slice(c + 1).flat()];
        for (const p of undelivered) notAccepted.add(p.origin);
        return { delivered, acceptedOrigins: acceptedOrigins(), failure: { index: Math.min(...undelivered.map((p) => p.index)), error: error ?? new Error(failed[0]?.code) } };
      }
      await deps.sleep(backoffDelay(deps.policy, attempt, deps.random));
    }
  }
  return { delivered, acceptedOrigins: acceptedOrigins() };
}

/**
 * Splits events into calls of at most `maxEntries` entries and `maxBytes` bytes. Without groups, in
 * the order given. With groups (`target.groupOf`), each call takes the next event of each group, in
 * stream order, never two of one group; the calls are sent one after another, so every group's
 * events still go out in stream order.
 */
export function chunksFor<T extends { event: EventEnvelope }>(target: EventTarget, events: readonly T[]): T[][] {
  const chunks: T[][] = [];
  let rest = events;
  while (rest.length > 0) {
    const chunk: T[] = [];
    const later: T[] = [];
    const groups = new Set<string>();
    let bytes = 0;
    for (const item of rest) {
      const group = target.groupOf?.(item.event);
      const size = target.sizeOf(item.event);
      const full = chunk.length >= target.maxEntries || (chunk.length > 0 && bytes + size > target.maxBytes);
      // Without groups, a full call ends the chunk; with groups, an event whose group is already in
      // this call (or waits for a later one) waits too.
      if (full && group === undefined) {
        later.push(...rest.slice(rest.indexOf(item)));
        break;
      }
      if (full || (group !== undefined && groups.has(group))) {
        later.push(item);
        if (group !== undefined) groups.add(group);
        continue;
      }
      chunk.push(item);
      if (group !== undefined) groups.add(group);
      bytes += size;
    }
    chunks.push(chunk);
    rest = later;
  }
  return chunks;
}

const errorName = (error: unknown): string => (error instanceof Error ? error.name : 'UnknownError');
