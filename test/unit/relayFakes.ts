import type { EventEnvelope } from '../../functions/toolkit/envelope';
import {
  InMemoryCursorStore,
  InMemoryOutboxLog,
  type AttemptFailure,
  type DeadLetterSink,
  type EventTarget,
  type FailedEntry,
  type PoisonRecord,
  type RelayDependencies,
  type RelayNotice,
} from '../../functions/toolkit/relay';
import type { BackoffPolicy } from '../../functions/toolkit/retry/backoff';
import { COMMIT_TIME } from './fixtures';

/**
 * An in-memory target. Records every call (event ids, in the order sent) and every event it
 * accepted; can be told to refuse given events for their first N attempts, or to throw on its
 * first N calls.
 */
export class FakeTarget implements EventTarget {
  readonly calls: string[][] = [];
  readonly accepted: EventEnvelope[] = [];
  readonly maxEntries: number;
  readonly maxBytes: number;
  private readonly refusalsLeft = new Map<string, number>();
  private throwsLeft = 0;
  private throwsFromCall = 1;

  constructor(
    readonly name: string,
    options: { maxEntries?: number; maxBytes?: number; sizeOf?: (event: EventEnvelope) => number; groupOf?: (event: EventEnvelope) => string } = {},
  ) {
    this.maxEntries = options.maxEntries ?? 10;
    this.maxBytes = options.maxBytes ?? 256 * 1024;
    if (options.sizeOf) this.sizeOf = options.sizeOf;
    if (options.groupOf) this.groupOf = options.groupOf;
  }

  groupOf?: (event: EventEnvelope) => string;

  sizeOf(event: EventEnvelope): number {
    return Buffer.byteLength(JSON.stringify(event));
  }

  /** Refuses each of these events on its next `attempts` calls that include it. */
  refusing(events: readonly EventEnvelope[], attempts: number): this {
    for (const event of events) this.refusalsLeft.set(event.id, attempts);
    return this;
  }

  /** Throws on `calls` calls (from call number `fromCall` on), accepting nothing. */
  throwing(calls: number, fromCall = 1): this {
    this.throwsLeft = calls;
    this.throwsFromCall = fromCall;
    return this;
  }

  async publish(events: readonly EventEnvelope[]): Promise<FailedEntry[]> {
    this.calls.push(events.map((e) => e.id));
    if (this.throwsLeft > 0 && this.calls.length >= this.throwsFromCall) {
      this.throwsLeft--;
      throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    }
    const failed: FailedEntry[] = [];
    for (const event of events) {
      const left = this.refusalsLeft.get(event.id) ?? 0;
      if (left > 0) {
        this.refusalsLeft.set(event.id, left - 1);
        failed.push({ id: event.id, code: 'InternalFailure', message: 'try again' });
      } else {
        this.accepted.push(event);
      }
    }
    return failed;
  }
}

/** An in-memory dead-letter queue; can be told to fail its first N sends. */
export class FakeDeadLetterSink implements DeadLetterSink {
  readonly sends: PoisonRecord[][] = [];
  private failuresLeft = 0;

  failing(sends: number): this {
    this.failuresLeft = sends;
    return this;
  }

  async send(records: readonly PoisonRecord[]): Promise<void> {
    this.sends.push([...records]);
    if (this.failuresLeft > 0) {
      this.failuresLeft--;
      throw new Error('dead-letter queue unavailable');
    }
  }

  get received(): PoisonRecord[] {
    return this.sends.at(-1) ?? [];
  }
}

export const POLICY: BackoffPolicy = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000 };

/**
 * Relay dependencies whose sleep records its delays and returns at once, with a fixed jitter of 0.5,
 * a clock fixed at the commit time, and in-memory cursors and log (the log holds `logged`, as the
 * outbox table would: every event a record of the batch carries was committed, so it is logged).
 */
export function relayDependencies(
  targets: EventTarget[],
  overrides: { deadLetters?: DeadLetterSink; policy?: BackoffPolicy; log?: InMemoryOutboxLog; cursors?: InMemoryCursorStore; logged?: ReadonlyArray<EventEnvelope | string | undefined>; now?: Date } = {},
) {
  const delays: number[] = [];
  const failures: AttemptFailure[] = [];
  const notices: RelayNotice[] = [];
  const log = overrides.log ?? new InMemoryOutboxLog();
  log.append((overrides.logged ?? []).filter((e): e is EventEnvelope => typeof e === 'object'));
  const cursors = overrides.cursors ?? new InMemoryCursorStore();
  const deps: RelayDependencies = {
    targets,
    deadLetters: overrides.deadLetters ?? new FakeDeadLetterSink(),
    log,
    cursors,
    clock: () => overrides.now ?? COMMIT_TIME,
    policy: overrides.policy ?? POLICY,
    sleep: async (ms) => {
      delays.push(ms);
    },
    random: () => 0.5,
    onAttemptFailed: (failure) => failures.push(failure),
    onNotice: (notice) => notices.push(notice),
  };
  return { deps, delays, failures, notices, log, cursors };
}
