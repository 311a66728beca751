import { describe, expect, it } from 'vitest';
import { DomainRejection } from '../../functions/toolkit/eventsource';
import * as wallet from '../../functions/wallet/wallet';
import { available, decideWallet, evolveWallet, initialWallet, type WalletCommand, type WalletEvent, type WalletState } from '../../functions/wallet/wallet';
import { applyCommand } from './walletHistories';

// The integrity edges of an account: numbers stay where money lives, every history array is bounded
// and a late or repeated transfer step never moves money twice or after its compensation.

const T0 = Date.parse('2026-11-23T10:00:00.000Z');
const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();
const eur = (amount: number) => ({ amount, currency: 'EUR' as const });

const opened: WalletEvent = { type: 'wallet.account.opened', data: { accountId: 'a-1', holder: { name: 'pd1:sealed' }, currency: 'EUR', openedAt: iso(T0) } };
const credit = (amount: number, transactionId = `t-${amount}`, at = T0): WalletEvent => ({ type: 'wallet.transaction.added', data: { accountId: 'a-1', transactionId, amount: eur(amount), at: iso(at) } });
const flagged: WalletEvent = { type: 'wallet.account.flagged', data: { accountId: 'a-1', reason: 'velocity', fraudEventId: 'f-1', flaggedAt: iso(T0) } };
const given = (...events: WalletEvent[]): WalletState => events.reduce(evolveWallet, initialWallet);
type TransferStep = Extract<WalletCommand, { transferId: string; amount: unknown }>;
const step = (kind: TransferStep['kind'], transferId: string, amount: number, at = T0): TransferStep => ({ kind, accountId: 'a-1', transferId, amount: eur(amount), at: iso(at) });
/** Applies commands as the handlers do (a refused step is recorded as its refusal event). */
const apply = (state: WalletState, ...commands: WalletCommand[]) => commands.reduce((s, c) => applyCommand(s, c).after, state);
const rejectionOf = (state: WalletState, command: WalletCommand): string => {
  try {
    decideWallet(command, state);
  } catch (error) {
    if (error instanceof DomainRejection) return error.code;
    throw error;
  }
  return 'accepted';
};
const add = (transactionId: string, amount: number): WalletCommand => ({ kind: 'AddTransaction', accountId: 'a-1', transactionId, amount: eur(amount), at: iso(T0) });

describe('wallet limits: amounts and balances', () => {
  it('refuses a transaction above the per-transaction maximum, either way, and accepts one at it', () => {
    const state = given(opened, credit(wallet.MAX_AMOUNT, 't-0'));
    expect(rejectionOf(state, add('t-1', wallet.MAX_AMOUNT + 1))).toBe('AmountTooLarge');
    expect(rejectionOf(state, add('t-1', -(wallet.MAX_AMOUNT + 1)))).toBe('AmountTooLarge');
    expect(rejectionOf(state, add('t-1', 9_000_000_000_000_000))).toBe('AmountTooLarge');
    expect(rejectionOf(state, add('t-1', -wallet.MAX_AMOUNT))).toBe('accepted');
  });

  it('refuses a credit that would take the balance above the maximum balance (far below Number.MAX_SAFE_INTEGER)', () => {
    const full = given(opened, ...Array.from({ length: wallet.MAX_BALANCE / wallet.MAX_AMOUNT }, (_, i) => credit(wallet.MAX_AMOUNT, `t-${i}`)));
    expect(full.balance).toBe(wallet.MAX_BALANCE);
    expect(rejectionOf(full, add('t-x', 1))).toBe('BalanceLimitExceeded');
    expect(rejectionOf(full, step('CreditTransfer', 'x-1', 1))).toBe('BalanceLimitExceeded');
    expect(rejectionOf(full, add('t-y', -1))).toBe('accepted');
    expect(wallet.MAX_BALANCE * 1_000).toBeLessThan(Number.MAX_SAFE_INTEGER);
  });

  it('refuses a transfer step above the per-transaction maximum or not positive', () => {
    const state = given(opened, credit(wallet.MAX_AMOUNT, 't-0'));
    expect(rejectionOf(state, step('ReserveFunds', 'x-1', wallet.MAX_AMOUNT + 1))).toBe('AmountTooLarge');
    expect(rejectionOf(state, step('CreditTransfer', 'x-1', wallet.MAX_AMOUNT + 1))).toBe('AmountTooLarge');
    expect(rejectionOf(state, step('ReserveFunds', 'x-1', 0))).toBe('InvalidAmount');
  });
});

describe('wallet transfer steps: ids, refusals and late steps', () => {
  it.each(['toString', 'constructor', 'valueOf', 'hasOwnProperty'])('treats a transfer id named like an object property (%s) like any other: it reserves, confirms, and the balance stays a number', (transferId) => {
    const state = apply(given(opened, credit(10_000, 't-0')), step('ReserveFunds', transferId, 4_000));
    expect(available(state)).toBe(6_000);
    const confirmed = apply(state, step('ConfirmReservation', transferId, 4_000));
    expect(confirmed.balance).toBe(6_000);
    const target = apply(given(opened), step('CreditTransfer', transferId, 2_500), step('ReverseCredit', transferId, 2_500));
    expect(target.balance).toBe(0);
  });

  it('given a reservation refused (the account was flagged), when the same ReserveFunds comes again after the flag is cleared, then it is refused again: the saga has closed the transfer', () => {
    // Shrunk counterexample of the transfer property (walletTransfers.test.ts): the duplicate
    // reserved money no release would ever come for.
    const refused = apply(given(opened, credit(10_000, 't-0'), flagged), step('ReserveFunds', 'x-1', 1_000));
    const cleared = apply(refused, { kind: 'ClearAccount', accountId: 'a-1', clearedBy: 'ops', at: iso(T0) });
    expect(rejectionOf(cleared, step('ReserveFunds', 'x-1', 1_000))).toBe('TransferSettled');
    expect(available(apply(cleared, step('ReserveFunds', 'x-1', 1_000)))).toBe(10_000);
  });

  it('given a credit refused, when the same CreditTransfer comes again, then it is refused again (the saga released the source)', () => {
    const full = given(opened, ...Array.from({ length: wallet.MAX_BALANCE / wallet.MAX_AMOUNT }, (_, i) => credit(wallet.MAX_AMOUNT, `t-${i}`)));
    const refused = apply(full, step('CreditTransfer', 'x-1', 1_000));
    const spent = apply(refused, add('t-spend', -wallet.MAX_AMOUNT));
    expect(rejectionOf(spent, step('CreditTransfer', 'x-1', 1_000))).toBe('TransferSettled');
  });

  it('given a confirmation refused (flagged during the transfer), when it comes again after the flag is cleared, then it is refused again: the credit is being reversed', () => {
    const reserved = apply(given(opened, credit(10_000, 't-0')), step('ReserveFunds', 'x-1', 4_000));
    const refused = apply(evolveWallet(reserved, flagged), step('ConfirmReservation', 'x-1', 4_000));
    const cleared = apply(refused, { kind: 'ClearAccount', accountId: 'a-1', clearedBy: 'ops', at: iso(T0) });
    expect(rejectionOf(cleared, step('ConfirmReservation', 'x-1', 4_000))).toBe('TransferSettled');
    expect(apply(cleared, step('ConfirmReservation', 'x-1', 4_000), step('ReleaseReservation', 'x-1', 4_000)).balance).toBe(10_000);
  });

  it('given a reservation, when ReserveFunds comes again for the same transfer with another amount, then it is refused as a reused transfer id and the reservation stays', () => {
    // Shrunk counterexample of the available-balance property: the repeat overwrote the reserved amount unchecked.
    const reserved = apply(given(opened, credit(1, 't-1')), step('ReserveFunds', 'x-3', 1));
    expect(rejectionOf(reserved, step('ReserveFunds', 'x-3', 2))).toBe('TransferIdReused');
    expect(available(apply(reserved, step('ReserveFunds', 'x-3', 2)))).toBe(0);
    expect(rejectionOf(apply(given(opened), step('CreditTransfer', 'x-4', 5)), step('CreditTransfer', 'x-4', 6))).toBe('TransferIdReused');
  });

  it('given a credit at the edge of the transfer memory, when its duplicate arrives as the memory forgets it, then deciding and folding agree: a second duplicate changes nothing', () => {
    // Shrunk counterexample of the "a command twice changes nothing" property: decide forgot the
    // credit before deciding, evolve only after folding, so the two disagreed on whether it was new.
    const credited = apply(given(opened), step('CreditTransfer', 'x-1', 1));
    const late = T0 + wallet.TRANSFER_MEMORY_DAYS * DAY + 1_000;
    const once = apply(credited, step('CreditTransfer', 'x-1', 1, late));
    expect(apply(once, step('CreditTransfer', 'x-1', 1, late))).toEqual(once);
    // Beyond the memory the duplicate is a new credit unless the saga's send time says otherwise:
    // with it (the command handler should pass `sentAt`), it is refused as stale.
    expect(rejectionOf(credited, { ...step('CreditTransfer', 'x-1', 1, late), sentAt: iso(T0 - 1_000) })).toBe('StaleTransferStep');
  });

  it('given a transfer credited in and already spent, when the credit is reversed, then the reversal happens (a compensation is never refused): the account owes it, and debits wait until it is paid back', () => {
    // Shrunk counterexample of the available-balance property (walletProperties.test.ts) without its
    // exception. The saga credits the target before it confirms the source, so a credit can be spent
    // before it is reversed: reported to the saga's owners (the credit could be the last step).
    const spent = apply(given(opened), step('CreditTransfer', 'x-3', 1), add('t-1', -1));
    const reversed = apply(spent, step('ReverseCredit', 'x-3', 1));
    expect([reversed.balance, available(reversed)]).toEqual([-1, -1]);
    expect(rejectionOf(reversed, add('t-2', -1))).toBe('InsufficientFunds');
    expect(apply(reversed, add('t-3', 1)).balance).toBe(0);
  });

  it('refuses to release a confirmed reservation (the money left): the saga fails loudly for an operator instead of calling it compensated', () => {
    const confirmed = apply(given(opened, credit(10_000, 't-0')), step('ReserveFunds', 'x-1', 4_000), step('ConfirmReservation', 'x-1', 4_000));
    expect(rejectionOf(confirmed, step('ReleaseReservation', 'x-1', 4_000))).toBe('TransferConfirmed');
    expect(decideWallet(step('ConfirmReservation', 'x-1', 4_000), confirmed).map((e) => e.type)).toEqual(['wallet.funds.reservation.confirmed']);
  });
});

describe('wallet memory of transfers: bounded, without losing the late-step guarantee', () => {
  it('caps the open reservations of an account', () => {
    const state = apply(given(opened, credit(10_000, 't-0')), ...Array.from({ length: wallet.MAX_OPEN_RESERVATIONS }, (_, i) => step('ReserveFunds', `x-${i}`, 1)));
    expect(Object.keys(state.reserved)).toHaveLength(wallet.MAX_OPEN_RESERVATIONS);
    expect(rejectionOf(state, step('ReserveFunds', 'x-more', 1))).toBe('TooManyOpenTransfers');
    expect(rejectionOf(apply(state, step('ReleaseReservation', 'x-0', 1)), step('ReserveFunds', 'x-more', 1))).toBe('accepted');
  });

  it('caps the credits an account remembers within the transfer memory; older ones are forgotten and make room', () => {
    const credits = Array.from({ length: wallet.MAX_REMEMBERED_CREDITS }, (_, i) => step('CreditTransfer', `x-${i}`, 1, T0 + i * 1000));
    const state = apply(given(opened), ...credits);
    expect(rejectionOf(state, step('CreditTransfer', 'x-more', 1, T0 + DAY))).toBe('TransferLimitReached');
    const later = T0 + (wallet.TRANSFER_MEMORY_DAYS + 1) * DAY;
    expect(rejectionOf(state, step('CreditTransfer', 'x-more', 1, later))).toBe('accepted');
    expect(evolveWallet(state, credit(1, 't-tick', later)).credited).toEqual([]);
  });

  it('keeps settled transfers for the transfer memory: a late ReserveFunds after its release is refused for as long as it can arrive', () => {
    const released = apply(given(opened, credit(10_000, 't-0')), step('ReleaseReservation', 'x-1', 1_000));
    const late = T0 + (wallet.TRANSFER_MEMORY_DAYS - 1) * DAY;
    const stillRemembered = evolveWallet(released, credit(1, 't-tick', late));
    expect(rejectionOf(stillRemembered, step('ReserveFunds', 'x-1', 1_000, late))).toBe('TransferSettled');
  });

  it('forgets a settled transfer after the memory; a step of a forgotten transfer sent before it was forgotten is refused as stale', () => {
    const released = apply(given(opened, credit(10_000, 't-0')), step('ReleaseReservation', 'x-1', 1_000));
    const later = T0 + (wallet.TRANSFER_MEMORY_DAYS + 1) * DAY;
    const forgot = evolveWallet(released, credit(1, 't-tick', later));
    expect(forgot.settled).toEqual([]);
    // the saga sent it at T0 - 1 s, before the release: it may be x-1's, forgotten
    expect(rejectionOf(forgot, { ...step('ReserveFunds', 'x-1', 1_000, later), sentAt: iso(T0 - 1_000) })).toBe('StaleTransferStep');
    // a step sent after everything forgotten was settled cannot be one of those transfers
    expect(rejectionOf(forgot, { ...step('ReserveFunds', 'x-2', 1_000, later), sentAt: iso(later - 1_000) })).toBe('accepted');
  });

  it('remembers at most MAX_REMEMBERED_SETTLED settled transfers: beyond, the oldest are forgotten, and steps sent before them are refused as stale', () => {
    const releases = Array.from({ length: wallet.MAX_REMEMBERED_SETTLED + 10 }, (_, i) => step('ReleaseReservation', `x-${i}`, 1, T0 + i * 1000));
    const state = apply(given(opened, credit(10_000, 't-0')), ...releases);
    expect(state.settled).toHaveLength(wallet.MAX_REMEMBERED_SETTLED);
    expect(state.settled.map((s) => s.transferId)).not.toContain('x-0');
    expect(rejectionOf(state, { ...step('ReserveFunds', 'x-0', 1, T0 + DAY), sentAt: iso(T0 - 1) })).toBe('StaleTransferStep');
    expect(rejectionOf(state, { ...step('ReserveFunds', 'x-new', 1, T0 + DAY), sentAt: iso(T0 + DAY - 1) })).toBe('accepted');
  });
});
