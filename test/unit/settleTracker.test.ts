/**
 * Waiting on progress, not on a fixed window (the chaos settle and the redrive's wait for its release
 * markers): the wait goes on while the work left keeps shrinking, and ends when it stops shrinking or
 * at the cap.
 */
import { describe, expect, it } from 'vitest';
import { SettleTracker } from '../../functions/toolkit/progress/SettleTracker';

/** A clock the test moves. */
const clock = () => {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
};

describe('SettleTracker: a deadline that restarts while progress is made', () => {
  it('keeps waiting as long as some metric shrinks, far past the idle window, and says settled at zero', () => {
    // arrange: a backlog draining at one message per 50 s, with a 60 s idle window
    const time = clock();
    const settle = new SettleTracker({ idleMs: 60_000, capMs: 3_600_000, now: time.now });

    // act / assert
    for (let depth = 30; depth > 0; depth--) {
      expect(settle.observe({ queue: depth, running: 1 })).toBe('waiting');
      time.advance(50_000);
    }
    expect(settle.observe({ queue: 0, running: 0 })).toBe('settled');
  });

  it('gives up when nothing shrinks for the idle window; a count that only wobbles is no progress', () => {
    // arrange
    const time = clock();
    const settle = new SettleTracker({ idleMs: 60_000, capMs: 3_600_000, now: time.now });
    settle.observe({ queue: 5, behind: 2 });

    // act: in flight ↔ visible, never below the best seen
    const verdicts = [6, 5, 7, 5].map((queue) => {
      time.advance(20_000);
      return settle.observe({ queue, behind: 2 });
    });

    // assert
    expect(verdicts).toEqual(['waiting', 'waiting', 'stalled', 'stalled']);
    expect(settle.describe()).toBe('queue 5, behind 2');
  });

  it('ends at the hard cap even while progress is made', () => {
    // arrange
    const time = clock();
    const settle = new SettleTracker({ idleMs: 60_000, capMs: 120_000, now: time.now });

    // act
    const verdicts = [100, 90, 80, 70].map((queue) => {
      const verdict = settle.observe({ queue });
      time.advance(40_000);
      return verdict;
    });

    // assert
    expect(verdicts).toEqual(['waiting', 'waiting', 'waiting', 'capped']);
  });

  it('counts progress the metrics cannot show when told', () => {
    // arrange
    const time = clock();
    const settle = new SettleTracker({ idleMs: 60_000, capMs: 3_600_000, now: time.now });
    settle.observe({ queue: 1 });
    time.advance(50_000);

    // act: nothing shrank, but the caller saw progress (a read model's revisions grew)
    settle.observe({ queue: 1 }, true);
    time.advance(50_000);

    // assert
    expect(settle.observe({ queue: 1 })).toBe('waiting');
  });
});

