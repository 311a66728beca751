/**
 * The chaos checker's pure parts, over recorded data: the settle (waits while work shrinks, ends when
 * it stops shrinking or at the cap) and the transfer outcome invariants (they fail on the records the
 * 2026 full run produced: compensations after a timeout accepted as "finished").
 */
import { describe, expect, it } from 'vitest';
import { SettleTracker } from '../chaos/settle';
import { MAX_TIMED_OUT_COMPENSATION_SHARE, outcomeOf, outcomeShares, transferInvariants, type TransferRecord } from '../chaos/transferOutcomes';

/** A clock the test moves. */
const clock = () => {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
};

describe('chaos settle: a deadline that restarts while progress is made', () => {
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

const transfer = (n: number, status: string, failure?: { step: string; reason: 'refused' | 'timed-out' }): TransferRecord => ({ transferId: `x${n}`, view: { status, ...(failure ? { failure } : {}) } });
const completed = (count: number, from = 0) => Array.from({ length: count }, (_, i) => transfer(from + i, 'completed'));
const invariant = (records: readonly TransferRecord[], prefix: string) => {
  const found = transferInvariants('wallet', records).find((r) => r.invariant.startsWith(prefix));
  if (!found) throw new Error(`no invariant ${prefix}`);
  return found;
};

describe('chaos transfer outcomes: the share of transfers by outcome', () => {
  it('classifies each transfer from the saga’s status and failure', () => {
    expect(outcomeOf({ status: 'completed' })).toBe('completed');
    expect(outcomeOf({ status: 'compensated', failure: { step: 'credit', reason: 'refused' } })).toBe('compensated after a refusal');
    expect(outcomeOf({ status: 'compensated', failure: { step: 'reserve', reason: 'timed-out' } })).toBe('compensated after a timeout');
    expect(outcomeOf({ status: 'compensated' })).toBe('compensated after a timeout'); // no reason: the harsher reading
    expect(outcomeOf({ status: 'failed', failure: { step: 'confirm', reason: 'timed-out' } })).toBe('failed (needs an operator)');
    expect(outcomeOf({ status: 'running' })).toBe('unfinished');
    expect(outcomeOf({ status: 'compensating' })).toBe('unfinished');
    expect(outcomeOf(undefined)).toBe('unfinished');
  });

  it('holds for a loaded run that completes its transfers (refusals and ≤ 5 % timeouts allowed), and reports the shares', () => {
    // arrange: 100 transfers — 90 completed, 5 refused, 5 timed out
    const records = [
      ...completed(90),
      ...Array.from({ length: 5 }, (_, i) => transfer(90 + i, 'compensated', { step: 'reserve', reason: 'refused' })),
      ...Array.from({ length: 5 }, (_, i) => transfer(95 + i, 'compensated', { step: 'reserve', reason: 'timed-out' })),
    ];

    // act
    const results = transferInvariants('wallet', records);

    // assert
    expect(results.map((r) => r.violations)).toEqual([0, 0, 0]);
    expect(results[0]!.detail).toBe('completed 90 (90 %), compensated after a refusal 5 (5.0 %), compensated after a timeout 5 (5.0 %), failed (needs an operator) 0 (0 %)');
    expect(outcomeShares(records)['compensated after a timeout'].share).toBe(MAX_TIMED_OUT_COMPENSATION_SHARE);
  });

  it('fails on the 2026 full run’s records: 677 of 760 transfers compensated after a reserve timeout', () => {
    // arrange
    const records = [...completed(83), ...Array.from({ length: 677 }, (_, i) => transfer(83 + i, 'compensated', { step: 'reserve', reason: 'timed-out' }))];

    // act
    const timedOut = invariant(records, 'compensations after a timeout');

    // assert
    expect(timedOut.violations).toBe(677);
    expect(timedOut.detail).toMatch(/^677 of 760 \(89 %\): x83 \(reserve timed-out\)/);
    expect(invariant(records, 'transfers finished').violations).toBe(0); // what the old checker looked at
  });

  it('fails on a transfer left for an operator, and on one still running', () => {
    // arrange
    const records = [...completed(40), transfer(40, 'failed', { step: 'confirm', reason: 'timed-out' }), transfer(41, 'running')];

    // act / assert
    const failed = invariant(records, 'no transfer failed');
    expect(failed.violations).toBe(1);
    expect(failed.detail).toBe('x40 (confirm timed-out)');
    const unfinished = invariant(records, 'transfers finished');
    expect(unfinished.violations).toBe(1);
    expect(unfinished.detail).toContain('still: x41 (running)');
  });

  it('fails when 3 of 20 transfers (15 %) were compensated after a timeout', () => {
    // arrange
    const records = [...completed(17), ...Array.from({ length: 3 }, (_, i) => transfer(17 + i, 'compensated', { step: 'confirm', reason: 'timed-out' }))];

    // act / assert
    expect(invariant(records, 'compensations after a timeout').violations).toBe(3);
  });
});
