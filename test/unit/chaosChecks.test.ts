/**
 * The chaos checker's pure parts, over recorded data: the transfer outcome invariants (they fail on
 * the records the 2026 full run produced: compensations after a timeout accepted as "finished").
 */
import { describe, expect, it } from 'vitest';
import { MAX_TIMED_OUT_COMPENSATION_SHARE, outcomeOf, outcomeShares, transferInvariants, type TransferRecord } from '../chaos/transferOutcomes';

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
