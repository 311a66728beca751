// Test-only: generated command histories of one wallet account, for the property tests, and the
// fold that applies them the way the wallet's handlers do.
import fc from 'fast-check';
import { DomainRejection, type Emitted } from '../../functions/toolkit/eventsource';
import { decideWallet, evolveWallet, initialWallet, refuseTransferStep, TRANSFER_REFUSALS, type WalletCommand, type WalletEvent, type WalletState } from '../../functions/wallet/wallet';

export const ACCOUNT = 'a-1';
export const T0 = Date.parse('2026-11-23T10:00:00.000Z');

/** A command without its time: the history gives each one its `at`. */
export type Timeless<C> = C extends unknown ? Omit<C, 'at'> : never;
export type HistoryStep = { readonly command: Timeless<WalletCommand>; readonly afterSeconds: number };

/** Few ids, so that retries, duplicates and late steps of one transfer happen often (and one named like an object's property). */
export const TRANSACTION_IDS = ['t-1', 't-2', 't-3', 't-4'] as const;
export const TRANSFER_IDS = ['x-1', 'x-2', 'x-3', 'toString'] as const;

const money = (max: number) => fc.record({ amount: fc.integer({ min: -max, max }), currency: fc.constantFrom('EUR', 'EUR', 'EUR', 'USD') as fc.Arbitrary<'EUR' | 'USD'> });
const positiveMoney = (max: number) => fc.record({ amount: fc.integer({ min: 1, max }), currency: fc.constantFrom('EUR', 'EUR', 'EUR', 'USD') as fc.Arbitrary<'EUR' | 'USD'> });

export function walletCommand(): fc.Arbitrary<Timeless<WalletCommand>> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('AddTransaction' as const), accountId: fc.constant(ACCOUNT), transactionId: fc.constantFrom(...TRANSACTION_IDS), amount: money(5_000), payee: fc.option(fc.record({ name: fc.constant('pd1:sealed'), country: fc.constantFrom('NL', 'BR') }), { nil: undefined }) }, { requiredKeys: ['kind', 'accountId', 'transactionId', 'amount'] }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('FlagAccount' as const), accountId: fc.constant(ACCOUNT), reason: fc.constant('velocity'), fraudEventId: fc.constantFrom('f-1', 'f-2') }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('ClearAccount' as const), accountId: fc.constant(ACCOUNT), clearedBy: fc.constant('ops') }) },
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constantFrom('ReserveFunds', 'ReleaseReservation', 'ConfirmReservation', 'CreditTransfer', 'ReverseCredit') as fc.Arbitrary<'ReserveFunds' | 'ReleaseReservation' | 'ConfirmReservation' | 'CreditTransfer' | 'ReverseCredit'>,
        accountId: fc.constant(ACCOUNT),
        transferId: fc.constantFrom(...TRANSFER_IDS),
        amount: positiveMoney(5_000),
      }),
    },
  );
}

/** Seconds between two commands: mostly seconds or minutes, sometimes days (past the transfer memory too). */
export const pause = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 600 }) }, { weight: 1, arbitrary: fc.integer({ min: 86_400, max: 25 * 86_400 }) });

/** An account opened in euros, then `maxLength` generated commands. */
export const history = (options: { minLength?: number; maxLength?: number } = {}): fc.Arbitrary<HistoryStep[]> =>
  fc.array(fc.record({ command: walletCommand(), afterSeconds: pause }), { minLength: options.minLength ?? 0, maxLength: options.maxLength ?? 60 });

export interface Applied {
  readonly command: WalletCommand;
  readonly before: WalletState;
  readonly after: WalletState;
  readonly events: readonly Emitted<WalletEvent>[];
  readonly rejection?: DomainRejection;
}

/**
 * Applies commands as the wallet's handlers do: decide, then evolve with the events; a refused
 * transfer step is recorded as its refusal event (walletCommandHandler); any other rejection
 * changes nothing (the HTTP API answers 4xx).
 */
export function applyCommand(state: WalletState, command: WalletCommand): Applied {
  let events: readonly Emitted<WalletEvent>[];
  let rejection: DomainRejection | undefined;
  try {
    events = decideWallet(command, state);
  } catch (error) {
    if (!(error instanceof DomainRejection)) throw error;
    rejection = error;
    events = command.kind in TRANSFER_REFUSALS ? refuseTransferStep(command as Parameters<typeof refuseTransferStep>[0], error.code, error.message) : [];
  }
  const after = events.reduce<WalletState>((s, e) => evolveWallet(s, e), state);
  return { command, before: state, after, events, ...(rejection ? { rejection } : {}) };
}

/** Runs a history from the initial state: every step, and every event in order. */
export function runHistory(steps: readonly HistoryStep[], start = T0): { steps: Applied[]; events: Emitted<WalletEvent>[]; state: WalletState } {
  let now = start;
  let state = initialWallet;
  const applied: Applied[] = [];
  const events: Emitted<WalletEvent>[] = [];
  const open: WalletCommand = { kind: 'OpenAccount', accountId: ACCOUNT, holderName: 'pd1:sealed', currency: 'EUR', at: new Date(now).toISOString() };
  for (const command of [open, ...steps.map((step) => ({ ...step.command, at: new Date((now += step.afterSeconds * 1000)).toISOString() }) as WalletCommand)]) {
    const result = applyCommand(state, command);
    applied.push(result);
    events.push(...result.events);
    state = result.after;
  }
  return { steps: applied, events, state };
}
