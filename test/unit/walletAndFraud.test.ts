import { describe, expect, it } from 'vitest';
import { DEFAULT_FRAUD_RULES, emptyWatch, watchTransaction, type AccountWatch } from '../../functions/fraud/rules';
import { DomainRejection } from '../../functions/toolkit/eventsource';
import type { TransactionAddedV2 } from '../../functions/wallet/schemas';
import { available, decideWallet, evolveWallet, initialWallet, RECENT_TRANSACTIONS, type WalletCommand, type WalletEvent, type WalletState } from '../../functions/wallet/wallet';

const AT = '2026-11-23T10:00:00.000Z';
const eur = (amount: number) => ({ amount, currency: 'EUR' as const });
const given = (...events: WalletEvent[]): WalletState => events.reduce(evolveWallet, initialWallet);
const when = (state: WalletState, command: WalletCommand) => decideWallet(command, state);
const rejectionOf = (state: WalletState, command: WalletCommand): { code: string; message: string } => {
  try {
    decideWallet(command, state);
  } catch (error) {
    if (error instanceof DomainRejection) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a rejection');
};

const opened: WalletEvent = { type: 'wallet.account.opened', data: { accountId: 'a-1', holder: { name: 'pd1:sealed' }, currency: 'EUR', openedAt: AT } };
const credit = (amount: number, transactionId = `t-${amount}`): WalletEvent => ({ type: 'wallet.transaction.added', data: { accountId: 'a-1', transactionId, amount: eur(amount), at: AT } });
const flagged: WalletEvent = { type: 'wallet.account.flagged', data: { accountId: 'a-1', reason: 'velocity', fraudEventId: 'f-1', flaggedAt: AT } };
const transferStep = (type: WalletCommand['kind'], transferId: string, amount: number): WalletCommand => ({ kind: type, accountId: 'a-1', transferId, amount: eur(amount), at: AT }) as WalletCommand;

describe('wallet decider', () => {
  it('given an open account with 100.00, when 30.00 is debited, then the transaction is added and the balance is 70.00', () => {
    const state = given(opened, credit(10_000));
    const events = when(state, { kind: 'AddTransaction', accountId: 'a-1', transactionId: 't-2', amount: eur(-3_000), at: AT });
    expect(events).toEqual([{ type: 'wallet.transaction.added', dataversion: 2, data: { accountId: 'a-1', transactionId: 't-2', amount: eur(-3_000), at: AT } }]);
    expect(given(opened, credit(10_000), ...events).balance).toBe(7_000);
  });

  it('given a transaction already added, when a client retries it (same transaction id), then nothing is added', () => {
    const state = given(opened, credit(10_000, 't-1'));
    expect(when(state, { kind: 'AddTransaction', accountId: 'a-1', transactionId: 't-1', amount: eur(10_000), at: AT })).toEqual([]);
    // … also when the balance would no longer allow it (the first one was accepted, and it stands)
    expect(when(given(opened, credit(500, 't-0'), credit(-500, 't-1')), { kind: 'AddTransaction', accountId: 'a-1', transactionId: 't-1', amount: eur(-500), at: AT })).toEqual([]);
  });

  it('given a transaction already added, when its id comes again with another amount, currency or payee country, then it is refused as a reused id and nothing is added', () => {
    const state = given(opened, credit(10_000, 't-0'), { type: 'wallet.transaction.added', data: { accountId: 'a-1', transactionId: 't-1', amount: eur(-500), payee: { name: 'pd1:sealed', country: 'NL' }, at: AT } });
    const again = (amount: { amount: number; currency: 'EUR' | 'USD' }, payee?: { name: string; country: string }): WalletCommand => ({ kind: 'AddTransaction', accountId: 'a-1', transactionId: 't-1', amount, ...(payee ? { payee } : {}), at: AT });
    for (const other of [again(eur(-600), { name: 'Shop', country: 'NL' }), again({ amount: -500, currency: 'USD' }, { name: 'Shop', country: 'NL' }), again(eur(-500), { name: 'Shop', country: 'BE' }), again(eur(-500))]) {
      expect(rejectionOf(state, other)).toEqual({ code: 'TransactionIdReused', message: expect.stringMatching(/t-1 was already used for another request/) });
    }
    // the payee's name is personal data, sealed in the event: it is not compared (see sameTransaction)
    expect(when(state, again(eur(-500), { name: 'Another Name', country: 'NL' }))).toEqual([]);
  });

  it('remembers the last RECENT_TRANSACTIONS transactions: the oldest is forgotten, a retry of it is a new transaction', () => {
    const many = Array.from({ length: RECENT_TRANSACTIONS + 1 }, (_, i) => credit(1, `t-${i}`));
    const state = given(opened, ...many);
    expect(state.recentTransactions).toHaveLength(RECENT_TRANSACTIONS);
    expect(state.recentTransactions[0]).toEqual({ transactionId: 't-1', amount: 1, currency: 'EUR' });
    expect(when(state, { kind: 'AddTransaction', accountId: 'a-1', transactionId: 't-0', amount: eur(1), at: AT })).toHaveLength(1);
    expect(when(state, { kind: 'AddTransaction', accountId: 'a-1', transactionId: 't-1', amount: eur(1), at: AT })).toEqual([]);
  });

  it('refuses a debit above the available balance, in another currency, or of zero, saying why', () => {
    const state = given(opened, credit(1_000));
    expect(rejectionOf(state, { kind: 'AddTransaction', accountId: 'a-1', transactionId: 't-x', amount: eur(-2_000), at: AT })).toMatchObject({ code: 'InsufficientFunds' });
    expect(rejectionOf(state, { kind: 'AddTransaction', accountId: 'a-1', transactionId: 't-x', amount: { amount: 100, currency: 'USD' }, at: AT })).toMatchObject({ code: 'CurrencyMismatch' });
    expect(rejectionOf(state, { kind: 'AddTransaction', accountId: 'a-1', transactionId: 't-x', amount: eur(0), at: AT })).toMatchObject({ code: 'InvalidAmount' });
    expect(rejectionOf(initialWallet, { kind: 'AddTransaction', accountId: 'a-1', transactionId: 't-x', amount: eur(1), at: AT })).toMatchObject({ code: 'AccountNotFound' });
  });

  it('given a flagged account, debits are refused until it is cleared; credits still land', () => {
    const state = given(opened, credit(10_000), flagged);
    expect(rejectionOf(state, { kind: 'AddTransaction', accountId: 'a-1', transactionId: 't-x', amount: eur(-100), at: AT })).toMatchObject({ code: 'AccountFlagged', message: expect.stringMatching(/until it is cleared/) });
    expect(when(state, { kind: 'AddTransaction', accountId: 'a-1', transactionId: 't-x', amount: eur(100), at: AT })).toHaveLength(1);
    expect(when(state, { kind: 'FlagAccount', accountId: 'a-1', reason: 'again', fraudEventId: 'f-2', at: AT })).toEqual([]);
    const cleared = given(opened, credit(10_000), flagged, ...when(state, { kind: 'ClearAccount', accountId: 'a-1', clearedBy: 'ops', at: AT }));
    expect(when(cleared, { kind: 'AddTransaction', accountId: 'a-1', transactionId: 't-x', amount: eur(-100), at: AT })).toHaveLength(1);
  });

  const apply = (state: WalletState, command: WalletCommand) => [...when(state, command)].reduce(evolveWallet, state);

  it('reserves for a transfer (available drops, balance stays), confirms (balance drops) or releases (available back); a repeat is answered again and changes nothing', () => {
    const state = given(opened, credit(10_000));
    const reserved = apply(state, transferStep('ReserveFunds', 'x-1', 4_000));
    expect([reserved.balance, available(reserved)]).toEqual([10_000, 6_000]);
    expect(when(reserved, transferStep('ReserveFunds', 'x-1', 4_000)).map((e) => e.type)).toEqual(['wallet.funds.reserved']);
    expect(apply(reserved, transferStep('ReserveFunds', 'x-1', 4_000))).toEqual(reserved);
    const confirmed = apply(reserved, transferStep('ConfirmReservation', 'x-1', 4_000));
    expect([confirmed.balance, available(confirmed)]).toEqual([6_000, 6_000]);
    expect(apply(confirmed, transferStep('ConfirmReservation', 'x-1', 4_000))).toEqual(confirmed);
    const released = apply(reserved, transferStep('ReleaseReservation', 'x-1', 4_000));
    expect([released.balance, available(released)]).toEqual([10_000, 10_000]);
    expect(apply(released, transferStep('ReleaseReservation', 'x-1', 4_000))).toEqual(released);
    expect(rejectionOf(state, transferStep('ConfirmReservation', 'x-9', 1))).toMatchObject({ code: 'NoReservation' });
  });

  it('credits a transfer once and reverses it once (compensation); repeats are answered and change nothing', () => {
    const state = given(opened);
    const credited = apply(state, transferStep('CreditTransfer', 'x-1', 2_500));
    expect(credited.balance).toBe(2_500);
    expect(apply(credited, transferStep('CreditTransfer', 'x-1', 2_500)).balance).toBe(2_500);
    const reversed = apply(credited, transferStep('ReverseCredit', 'x-1', 2_500));
    expect(reversed.balance).toBe(0);
    expect(apply(reversed, transferStep('ReverseCredit', 'x-1', 2_500)).balance).toBe(0);
  });

  it('an undo with nothing to undo is answered, and refuses the late step it undid (no money from a late credit or reserve)', () => {
    const state = given(opened, credit(10_000));
    const reversedFirst = apply(state, transferStep('ReverseCredit', 'x-2', 2_500));
    expect(reversedFirst.balance).toBe(10_000);
    expect(rejectionOf(reversedFirst, transferStep('CreditTransfer', 'x-2', 2_500))).toMatchObject({ code: 'TransferSettled' });
    const releasedFirst = apply(state, transferStep('ReleaseReservation', 'x-3', 1_000));
    expect(available(releasedFirst)).toBe(10_000);
    expect(rejectionOf(releasedFirst, transferStep('ReserveFunds', 'x-3', 1_000))).toMatchObject({ code: 'TransferSettled' });
  });

  it('holds a transfer out of an account flagged during it: the confirmation is refused', () => {
    const reserved = apply(given(opened, credit(10_000)), transferStep('ReserveFunds', 'x-1', 4_000));
    expect(rejectionOf(evolveWallet(reserved, flagged), transferStep('ConfirmReservation', 'x-1', 4_000))).toMatchObject({ code: 'AccountFlagged' });
  });

  it('refuses to reserve on a flagged account or beyond what is available', () => {
    expect(rejectionOf(given(opened, credit(10_000), flagged), transferStep('ReserveFunds', 'x-1', 1))).toMatchObject({ code: 'AccountFlagged' });
    expect(rejectionOf(given(opened, credit(1_000)), transferStep('ReserveFunds', 'x-1', 1_001))).toMatchObject({ code: 'InsufficientFunds' });
  });
});

const tx = (transactionId: string, amount: number, secondsAfter: number, country?: string): TransactionAddedV2 => ({
  accountId: 'a-1',
  transactionId,
  amount: eur(amount),
  at: new Date(Date.parse(AT) + secondsAfter * 1000).toISOString(),
  ...(country ? { payee: { name: 'pd1:sealed', country } } : {}),
});
const run = (transactions: TransactionAddedV2[]) =>
  transactions.reduce<{ watch: AccountWatch; fired: string[] }>(
    (acc, t) => {
      const { watch, detections } = watchTransaction(acc.watch, t);
      return { watch, fired: [...acc.fired, ...detections.map((d) => `${d.rule}@${t.transactionId}`)] };
    },
    { watch: emptyWatch, fired: [] },
  );

describe('fraud rules', () => {
  it('velocity: the 6th transaction within 60 s fires, listing the six; spread out they do not', () => {
    expect(run(Array.from({ length: 6 }, (_, i) => tx(`t${i}`, -100, i * 5))).fired).toEqual(['velocity@t5']);
    // a burst is reported once: the 7th to 11th do not fire again; a 12th makes a new burst of six
    expect(run(Array.from({ length: 12 }, (_, i) => tx(`t${i}`, -100, i))).fired).toEqual(['velocity@t5', 'velocity@t11']);
    expect(run(Array.from({ length: 6 }, (_, i) => tx(`t${i}`, -100, i * 15))).fired).toEqual([]);
    const { detections } = watchTransaction(run(Array.from({ length: 5 }, (_, i) => tx(`t${i}`, -100, i))).watch, tx('t5', -100, 5));
    expect(detections[0]?.transactionIds).toEqual(['t0', 't1', 't2', 't3', 't4', 't5']);
  });
  it('large debit: above the limit fires, at the limit or a large credit does not', () => {
    expect(run([tx('t1', -(DEFAULT_FRAUD_RULES.largeDebitMinorUnits + 1), 0)]).fired).toEqual(['large-debit@t1']);
    expect(run([tx('t1', -DEFAULT_FRAUD_RULES.largeDebitMinorUnits, 0), tx('t2', 500_000, 100)]).fired).toEqual([]);
  });
  it('new payee abroad: the first payment to a foreign country fires once; home and known countries do not', () => {
    expect(run([tx('t1', -500, 0, 'NL'), tx('t2', -500, 100, 'BR'), tx('t3', -500, 200, 'BR')]).fired).toEqual(['new-payee-abroad@t2']);
  });
  it('is deterministic: the same events give the same detections (a replay does not invent new ones)', () => {
    const events = [tx('t1', -500, 0, 'BR'), ...Array.from({ length: 6 }, (_, i) => tx(`v${i}`, -10, 10 + i))];
    expect(run(events)).toEqual(run(events));
  });
});
