import type { EventEnvelope } from '../envelope';
import { backoffDelay, type BackoffPolicy } from '../retry/backoff';
import type { DeadLetterSink, EventTarget, FailedEntry, PoisonRecord } from './ports';

/** One stream record, as the relay sees it: a valid event or poison. */
export type RelayRecord =
  | { readonly sequenceNumber: string; readonly event: EventEnvelope }
  | { readonly sequenceNumber: string; readonly poison: PoisonRecord };

export interface RelayDependencies {
  readonly targets: readonly EventTarget[];
  readonly deadLetters: DeadLetterSink;
  readonly policy: BackoffPolicy;
  readonly sleep: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /** Told about each failed attempt, for logs and metrics (ids and codes only). */
  readonly onAttemptFailed?: (failure: AttemptFailure) => void;
  /**
   * Extra copies of a committed event to publish right after it, to the targets that receive copies
   * (the bus), e.g. its older version during a schema migration (`registry.downcasts([...])`). A copy
   * carries its own id, derived from the original's. If this throws, the record fails like an
   * undeliverable one: the batch stops there and the record is retried, then dead-lettered.
   * @default no copies
   */
  readonly alsoPublish?: (event: EventEnvelope) => readonly EventEnvelope[];
}

export interface AttemptFailure {
  readonly target: string;
  readonly attempt: number;
  readonly failed: readonly FailedEntry[];
  readonly error?: unknown;
}

export interface RelayOutcome {
  /** Per target, how many events it accepted in this invocation. */
  readonly delivered: Readonly<Record<string, number>>;
  readonly deadLettered: number;
  /**
   * The stream sequence number of the first record that could not be handled. That record and every
   * later one must be retried, in order; `undefined` when the whole batch is done.
   */
  readonly firstFailedSequenceNumber?: string;
  readonly lastError?: unknown;
}

/**
 * Publishes a stream batch to every target, in stream order, in as few calls as the targets allow.
 * Failed entries alone are retried with exponential backoff and jitter; what still fails after the
 * last attempt makes the batch stop at its first failed record (so the shard retries it and what
 * follows, in order). Poison records go to the dead-letter sink at once.
 */
export async function relayBatch(records: readonly RelayRecord[], deps: RelayDependencies): Promise<RelayOutcome> {
  const events: Array<{ index: number; event: EventEnvelope }> = [];
  const poison: Array<{ index: number; poison: PoisonRecord }> = [];
  records.forEach((record, index) => {
    if ('event' in record) events.push({ index, event: record.event });
    else poison.push({ index, poison: record.poison });
  });

  const failures: Array<{ index: number; error?: unknown }> = [];
  const delivered: Record<string, number> = {};

  let deadLettered = 0;
  const poisonDone = deadLetter(poison, deps).then((failure) => {
    if (failure) failures.push(failure);
    else deadLettered = poison.length;
  });
  const targetsDone = deps.targets.map(async (target) => {
    const planned = target.receivesCopies && deps.alsoPublish ? withCopies(events, deps.alsoPublish) : { events };
    const result = await deliver(target, planned.events, deps);
    delivered[target.name] = result.delivered;
    if (result.failure) failures.push(result.failure);
    if (planned.failure) failures.push(planned.failure);
  });
  await Promise.all([poisonDone, ...targetsDone]);

  const first = failures.sort((a, b) => a.index - b.index)[0];
  return {
    delivered,
    deadLettered,
    ...(first ? { firstFailedSequenceNumber: records[first.index]?.sequenceNumber, lastError: first.error } : {}),
  };
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
): { events: Array<{ index: number; event: EventEnvelope }>; failure?: { index: number; error: unknown } } {
  const out: Array<{ index: number; event: EventEnvelope }> = [];
  for (const item of events) {
    let copies: readonly EventEnvelope[];
    try {
      copies = alsoPublish(item.event);
    } catch (error) {
      return { events: out, failure: { index: item.index, error } };
    }
    out.push(item, ...copies.map((event) => ({ index: item.index, event })));
  }
  return { events: out };
}

/**
 * Sends the events to one target chunk by chunk, in order; stops at the first chunk it cannot finish
 * and reports the earliest record not delivered (in that chunk or a later one).
 */
async function deliver(
  target: EventTarget,
  events: ReadonlyArray<{ index: number; event: EventEnvelope }>,
  deps: RelayDependencies,
): Promise<{ delivered: number; failure?: { index: number; error?: unknown } }> {
  let delivered = 0;
  const chunks = chunksFor(target, events);
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
      pending = pending.filter((p) => failedIds.has(p.event.id));
      if (pending.length === 0) break;
      deps.onAttemptFailed?.({ target: target.name, attempt, failed, error });
      if (attempt >= deps.policy.maxAttempts) {
        const undelivered = [...pending, ...chunks.slice(c + 1).flat()];
        return { delivered, failure: { index: Math.min(...undelivered.map((p) => p.index)), error: error ?? new Error(failed[0]?.code) } };
      }
      await deps.sleep(backoffDelay(deps.policy, attempt, deps.random));
    }
  }
  return { delivered };
}

/**
 * Splits events into calls of at most `maxEntries` entries and `maxBytes` bytes. Without groups, in
 * stream order. With groups (`target.groupOf`), each call takes the next event of each group, in
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
