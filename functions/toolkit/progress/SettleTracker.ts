/**
 * Waiting on progress, not on a fixed window: the caller waits while the work left (queue depths,
 * accounts behind, markers not reached, …) keeps shrinking, and gives up only when nothing has shrunk
 * for `idleMs`, or after the hard cap `capMs` whatever happens. A backlogged system (a consumer at
 * 2 messages/s) is waited for; a stuck one still ends. The chaos checker settles with it, and
 * `redrive()` waits with it for the consumer to reach its release markers. Progress is a metric going below its lowest value so far, so a count that only
 * wobbles (a message moving between visible and in flight, a retry) does not keep a stuck run alive.
 * Pure: the clock is passed in.
 */
export type SettleVerdict = 'settled' | 'waiting' | 'stalled' | 'capped';

export interface SettleOptions {
  /** Longest time without progress before giving up. */
  readonly idleMs: number;
  /** Longest time in all, progress or not. @default no cap */
  readonly capMs?: number;
  readonly now?: () => number;
}

export class SettleTracker {
  private readonly now: () => number;
  private readonly started: number;
  private lastProgress: number;
  private readonly best = new Map<string, number>();
  private last: Readonly<Record<string, number>> = {};

  constructor(private readonly options: SettleOptions) {
    this.now = options.now ?? Date.now;
    this.started = this.now();
    this.lastProgress = this.started;
  }

  /**
   * Records the work left (each metric: lower is better, 0 is done) and says where things stand:
   * `settled` when every metric is 0, `waiting` while progress is recent, else `stalled` or `capped`.
   * `progressed`: progress the metrics cannot show (e.g. a read model's revisions grew).
   */
  observe(remaining: Readonly<Record<string, number>>, progressed = false): SettleVerdict {
    const at = this.now();
    if (progressed) this.lastProgress = at;
    for (const [name, value] of Object.entries(remaining)) {
      const best = this.best.get(name);
      if (best === undefined || value < best) {
        if (best !== undefined) this.lastProgress = at;
        this.best.set(name, value);
      }
    }
    this.last = { ...remaining };
    if (Object.values(remaining).every((v) => v <= 0)) return 'settled';
    if (at - this.started >= (this.options.capMs ?? Number.POSITIVE_INFINITY)) return 'capped';
    if (at - this.lastProgress >= this.options.idleMs) return 'stalled';
    return 'waiting';
  }

  /** The last observation, for a log line: `name 12, other 0`. */
  describe(): string {
    return Object.entries(this.last).map(([name, value]) => `${name} ${value}`).join(', ');
  }

  /** Seconds since the tracker started. */
  elapsedSeconds(): number {
    return Math.round((this.now() - this.started) / 1000);
  }
}
