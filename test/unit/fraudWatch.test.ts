import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { followLog, positionOf, type WatchedAccount } from '../../functions/fraud/rules';
import type { TransactionAddedV2 } from '../../functions/wallet/schemas';

const T0 = Date.parse('2026-12-07T10:00:00Z');
const tx = (id: string, amount: number, second: number, country = 'NL'): TransactionAddedV2 => ({
  accountId: 'a-1',
  transactionId: id,
  amount: { amount, currency: 'EUR' },
  ...(amount < 0 ? { payee: { name: 'sealed', country } } : {}),
  at: new Date(T0 + second * 1000).toISOString(),
});

/** An account's log: transactions and (undefined) other events, sequence = index + 1. */
type Log = ReadonlyArray<TransactionAddedV2 | undefined>;
const entries = (log: Log, from: number, to: number) =>
  log.slice(from, to).map((transaction, i) => ({ sequence: from + i + 1, ...(transaction ? { transaction } : {}) }));

describe('FraudWatch’s place in an account’s log (pure)', () => {
  it('given a watch at sequence 4: an event at or below it was applied, 5 is next, 7 comes after a gap of 5–6', () => {
    const at4: WatchedAccount = { watch: { recent: [], payeeCountries: [] }, lastSequence: 4 };
    expect([3, 4, 5, 7].map((sequence) => positionOf(at4, sequence))).toEqual([{ kind: 'applied-before' }, { kind: 'applied-before' }, { kind: 'next' }, { kind: 'gap', after: 4, before: 7 }]);
    expect(positionOf(undefined, 1)).toEqual({ kind: 'next' });
  });

  it('folds other events as places only, and refuses a list that is not the continuation of the watch', () => {
    const log: Log = [undefined, tx('t1', 5_000, 0), undefined, tx('t2', -200_000, 10)];
    const followed = followLog(undefined, entries(log, 0, 4));
    expect(followed.lastSequence).toBe(4);
    expect(followed.detections.map((d) => [d.rule, d.at])).toEqual([['large-debit', tx('t2', 0, 10).at]]);
    expect(() => followLog(followed, entries(log, 0, 1))).toThrow(/continues at sequence 5, not 1/);
    expect(() => followLog(undefined, entries(log, 1, 2))).toThrow(/continues at sequence 1, not 2/);
  });

  it('whatever order and however often the events arrive, catching up from the log gives the in-order replay', () => {
    const transaction = fc.record({ amount: fc.oneof(fc.integer({ min: 1, max: 5_000 }), fc.integer({ min: -150_000, max: -1 })), gap: fc.integer({ min: 0, max: 40 }), country: fc.constantFrom('NL', 'NL', 'DE', 'FR') });
    const logArb = fc.array(fc.option(transaction, { freq: 3 }), { minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(logArb, fc.array(fc.nat(), { maxLength: 80 }), fc.infiniteStream(fc.nat()), (raw, extra, shuffle) => {
        // arrange: the account's log, and deliveries of every event at least once, in any order, with duplicates
        let second = 0;
        const log: Log = raw.map((t, i) => (t === null ? undefined : tx(`t${i}`, t.amount, (second += t.gap), t.country)));
        const deliveries = [...log.keys(), ...extra.map((n) => n % log.length)];
        const order = deliveries.map((index) => ({ index, key: shuffle.next().value })).sort((a, b) => a.key - b.key).map((d) => d.index);

        // act: what the handler does with each delivery
        let account: WatchedAccount | undefined;
        const detections: string[] = [];
        for (const index of order) {
          const sequence = index + 1;
          if (log[index] === undefined) continue; // other events: nothing to do
          const position = positionOf(account, sequence);
          if (position.kind === 'applied-before') continue;
          const from = account?.lastSequence ?? 0;
          const followed = followLog(account, entries(log, from, sequence));
          account = { watch: followed.watch, lastSequence: followed.lastSequence };
          detections.push(...followed.detections.map((d) => `${d.rule}@${d.transactionIds.at(-1)}`));
        }

        // assert: the same watch and the same detections as one in-order pass over the log up to the last transaction
        const lastTransaction = log.findLastIndex((t) => t !== undefined) + 1;
        const replay = followLog(undefined, entries(log, 0, lastTransaction));
        expect(account?.lastSequence ?? 0).toBe(lastTransaction);
        expect(account?.watch ?? { recent: [], payeeCountries: [] }).toEqual(replay.watch);
        expect(detections).toEqual(replay.detections.map((d) => `${d.rule}@${d.transactionIds.at(-1)}`));
      }),
      { numRuns: 300 },
    );
  });
});
