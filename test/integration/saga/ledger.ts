import * as z from 'zod';
import type { NewEvent } from '../../../functions/toolkit/outbox';

// A tiny test-only ledger: accounts with an available and a reserved amount, changed by the transfer
// saga's commands. Pure decider. Every command answers with an event (a duplicate answers again
// without changing anything), and a step whose compensation came first is refused, so a command that
// arrives after its step timed out and was undone cannot create or destroy money.

export const LEDGER_SOURCE = 'test.ledger';
export const LEDGER_EVENTS = {
  accountOpened: 'test.ledger.account.opened',
  fundsReserved: 'test.ledger.funds.reserved',
  reservationRefused: 'test.ledger.reservation.refused',
  fundsReleased: 'test.ledger.funds.released',
  fundsCredited: 'test.ledger.funds.credited',
  creditRefused: 'test.ledger.credit.refused',
  creditReversed: 'test.ledger.credit.reversed',
  reservationConfirmed: 'test.ledger.reservation.confirmed',
  confirmationRefused: 'test.ledger.confirmation.refused',
  /** A command it was told to leave unanswered once (test fault), remembered so the next attempt is applied. */
  commandIgnored: 'test.ledger.command.ignored',
} as const;

const TransferStatus = z.enum(['reserved', 'released', 'confirmed', 'refused', 'credited', 'reversed']);
export const AccountSchema = z.object({
  accountId: z.string(),
  available: z.number().int(),
  reserved: z.number().int(),
  /** Transfer id → what this account did for it (and how much). */
  transfers: z.record(z.string(), z.object({ status: TransferStatus, amount: z.number().int() })),
  /** Commands (`<transferId>:<type>`) left unanswered once, as told. */
  ignored: z.array(z.string()).default([]),
});
export type Account = z.infer<typeof AccountSchema>;

const Fault = z.enum(['refuse', 'ignore']).optional();
export const LedgerCommandSchemas = {
  ReserveFunds: z.object({ transferId: z.string(), accountId: z.string(), amount: z.number().int().positive(), fault: Fault }),
  ReleaseFunds: z.object({ transferId: z.string(), accountId: z.string(), fault: z.literal('ignore-once').optional() }),
  CreditFunds: z.object({ transferId: z.string(), accountId: z.string(), amount: z.number().int().positive(), fault: Fault }),
  ReverseCredit: z.object({ transferId: z.string(), accountId: z.string() }),
  ConfirmReservation: z.object({ transferId: z.string(), accountId: z.string(), fault: Fault }),
} as const;
type Commands = { [K in keyof typeof LedgerCommandSchemas]: { type: K; data: z.infer<(typeof LedgerCommandSchemas)[K]> } }[keyof typeof LedgerCommandSchemas];

/** The account's new state and the events to commit; no events: nothing to do (a fault that ignores the command). */
export interface LedgerDecision {
  readonly state: Account;
  readonly events: NewEvent[];
}

/** A command the ledger cannot apply whatever happens (e.g. releasing a confirmed transfer). */
export class LedgerRejection extends Error {
  override name = 'LedgerRejection';
}

/** Key of an account's item in the ledger's outbox table. */
export const accountKey = (accountId: string) => ({ pk: `ACCOUNT#${accountId}`, sk: 'STATE' });

export const newAccount = (accountId: string, balance: number): LedgerDecision => ({
  state: { accountId, available: balance, reserved: 0, transfers: {}, ignored: [] },
  events: [{ type: LEDGER_EVENTS.accountOpened, data: { accountId, balance } }],
});

export function decide(command: Commands, account: Account): LedgerDecision {
  const { transferId } = command.data;
  const done = account.transfers[transferId];
  const event = (type: string, amount: number, extra: Record<string, unknown> = {}): NewEvent => ({ type, data: { transferId, accountId: account.accountId, amount, ...extra } });
  const set = (changes: Partial<Account>, status: z.infer<typeof TransferStatus>, amount: number): Account => ({
    ...account,
    ...changes,
    transfers: { ...account.transfers, [transferId]: { status, amount } },
  });
  const again = (type: string) => ({ state: account, events: [event(type, done?.amount ?? 0, { repeated: true })] });

  switch (command.type) {
    case 'ReserveFunds': {
      if (command.data.fault === 'ignore') return { state: account, events: [] };
      if (done?.status === 'reserved' || done?.status === 'confirmed') return again(LEDGER_EVENTS.fundsReserved);
      if (done !== undefined) return { state: account, events: [event(LEDGER_EVENTS.reservationRefused, 0, { reason: `transfer is ${done.status}` })] };
      const { amount } = command.data;
      if (command.data.fault === 'refuse' || account.available < amount) {
        return { state: set({}, 'refused', 0), events: [event(LEDGER_EVENTS.reservationRefused, amount, { reason: command.data.fault ? 'told to refuse' : 'insufficient funds' })] };
      }
      return { state: set({ available: account.available - amount, reserved: account.reserved + amount }, 'reserved', amount), events: [event(LEDGER_EVENTS.fundsReserved, amount)] };
    }
    case 'ReleaseFunds': {
      const once = `${transferId}:${command.type}`;
      if (command.data.fault === 'ignore-once' && !account.ignored.includes(once)) {
        return { state: { ...account, ignored: [...account.ignored, once] }, events: [{ type: LEDGER_EVENTS.commandIgnored, data: { transferId, accountId: account.accountId, command: command.type } }] };
      }
      if (done?.status === 'released' || done?.status === 'refused') return again(LEDGER_EVENTS.fundsReleased);
      if (done?.status === 'confirmed') throw new LedgerRejection(`transfer ${transferId} is confirmed; it cannot be released`);
      if (done === undefined) return { state: set({}, 'released', 0), events: [event(LEDGER_EVENTS.fundsReleased, 0)] }; // nothing was reserved: remember, refuse a late reservation
      return { state: set({ available: account.available + done.amount, reserved: account.reserved - done.amount }, 'released', done.amount), events: [event(LEDGER_EVENTS.fundsReleased, done.amount)] };
    }
    case 'CreditFunds': {
      if (command.data.fault === 'ignore') return { state: account, events: [] };
      if (done?.status === 'credited') return again(LEDGER_EVENTS.fundsCredited);
      if (done !== undefined) return { state: account, events: [event(LEDGER_EVENTS.creditRefused, 0, { reason: `transfer is ${done.status}` })] };
      const { amount } = command.data;
      if (command.data.fault === 'refuse') return { state: set({}, 'refused', 0), events: [event(LEDGER_EVENTS.creditRefused, amount, { reason: 'told to refuse' })] };
      return { state: set({ available: account.available + amount }, 'credited', amount), events: [event(LEDGER_EVENTS.fundsCredited, amount)] };
    }
    case 'ReverseCredit': {
      if (done?.status === 'reversed' || done?.status === 'refused') return again(LEDGER_EVENTS.creditReversed);
      if (done === undefined) return { state: set({}, 'reversed', 0), events: [event(LEDGER_EVENTS.creditReversed, 0)] };
      return { state: set({ available: account.available - done.amount }, 'reversed', done.amount), events: [event(LEDGER_EVENTS.creditReversed, done.amount)] };
    }
    case 'ConfirmReservation': {
      if (command.data.fault === 'ignore') return { state: account, events: [] };
      if (done?.status === 'confirmed') return again(LEDGER_EVENTS.reservationConfirmed);
      if (done?.status !== 'reserved') return { state: account, events: [event(LEDGER_EVENTS.confirmationRefused, 0, { reason: `transfer is ${done?.status ?? 'unknown'}` })] };
      if (command.data.fault === 'refuse') return { state: account, events: [event(LEDGER_EVENTS.confirmationRefused, done.amount, { reason: 'told to refuse' })] };
      return { state: set({ reserved: account.reserved - done.amount }, 'confirmed', done.amount), events: [event(LEDGER_EVENTS.reservationConfirmed, done.amount)] };
    }
  }
}
