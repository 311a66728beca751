import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { available, type WalletCommand } from '../../functions/wallet/wallet';
import { applyCommand, history, runHistory } from './walletHistories';

// Property-based tests of one wallet account: generated command histories (few ids, so retries,
// duplicates, late and repeated transfer steps happen often), applied as the handlers apply them.

const describeSteps = (steps: ReturnType<typeof runHistory>['steps']) =>
  steps.map((s) => `${s.command.kind} ${'transactionId' in s.command ? s.command.transactionId : 'transferId' in s.command ? s.command.transferId : ''} → ${s.rejection?.code ?? s.events.map((e) => e.type).join(', ')}`).join('\n');

describe('a wallet account (property-based)', () => {
  it('applies a transaction id at most once, whatever the retries (same or other request) and whatever happened in between', () => {
    fc.assert(
      fc.property(history(), (steps) => {
        const { events, steps: applied } = runHistory(steps);
        const added = events.flatMap((e) => (e.type === 'wallet.transaction.added' ? [e.data.transactionId] : []));
        expect(new Set(added).size, describeSteps(applied)).toBe(added.length);
        // a retry is answered with nothing; another request under a used id is refused
        for (const step of applied) {
          if (step.command.kind !== 'AddTransaction') continue;
          const id = step.command.transactionId;
          if (step.before.recentTransactions.some((t) => t.transactionId === id)) expect(step.events).toEqual([]);
        }
      }),
      { numRuns: 1_000 },
    );
  });

  it('never makes the available balance negative (nor more negative), except by reversing a credit already spent', () => {
    fc.assert(
      fc.property(history(), (steps) => {
        const { steps: applied } = runHistory(steps);
        for (const step of applied) {
          if (step.command.kind === 'ReverseCredit') continue; // see the test below: a compensation is never refused
          expect(available(step.after), describeSteps(applied)).toBeGreaterThanOrEqual(Math.min(0, available(step.before)));
        }
      }),
      { numRuns: 1_000 },
    );
  });

  it('changes nothing when any command comes twice in a row (a retry, a redelivery)', () => {
    fc.assert(
      fc.property(history(), fc.nat(), (steps, which) => {
        const { steps: applied } = runHistory(steps);
        const step = applied[which % applied.length]!;
        const again = applyCommand(step.after, step.command as WalletCommand);
        expect(again.after, describeSteps(applied)).toEqual(step.after);
      }),
      { numRuns: 1_000 },
    );
  });
});
