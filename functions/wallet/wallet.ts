import type * as z from 'zod';
import type { Decider, DomainEvent, Emitted } from '../toolkit/eventsource';
import { DomainRejection } from '../toolkit/eventsource';
import { walletRegistry, type AccountClearedV1, type AccountFlaggedV1, type AccountOpenedV1, type Currency, type Money, type TransactionAddedV2, type TransferStepRefusedV1, type TransferStepV1 } from './schemas';

/** Transactions are written in the latest version of their schema (2: amounts carry their currency). */
const TRANSACTION_ADDED_VERSION = walletRegistry.latest('wallet.transaction.added').version;

/** The wallet's events as its decider sees them: always at the latest version (the store upcasts). */
export type WalletEvent =
  | DomainEvent<'wallet.account.opened', z.infer<typeof AccountOpenedV1>>
  | DomainEvent<'wallet.transaction.added', TransactionAddedV2>
  | DomainEvent<'wallet.account.flagged', z.infer<typeof AccountFlaggedV1>>
  | DomainEvent<'wallet.account.cleared', z.infer<typeof AccountClearedV1>>
  | DomainEvent<'wallet.funds.reserved' | 'wallet.funds.released' | 'wallet.funds.reservation.confirmed' | 'wallet.transfer.credited' | 'wallet.transfer.credit.reversed', z.infer<typeof TransferStepV1>>
  | DomainEvent<RefusalType, z.infer<typeof TransferStepRefusedV1>>;

/** The event that tells a transfer's saga that a step was refused, by step. */
export const TRANSFER_REFUSALS = {
  ReserveFunds: 'wallet.funds.reservation.refused',
  CreditTransfer: 'wallet.transfer.credit.refused',
  ConfirmReservation: 'wallet.funds.confirmation.refused',
} as const;
type RefusalType = (typeof TRANSFER_REFUSALS)[keyof typeof TRANSFER_REFUSALS];

export interface WalletState {
  readonly opened: boolean;
  readonly currency?: Currency;
  /** Minor units: every transaction, confirmed transfer out, and transfer credited in. */
  readonly balance: number;
  /** Open reservations of transfers out, by transfer id (minor units). */
  readonly reserved: Readonly<Record<string, number>>;
  /** Transfers credited in and not reversed, by transfer id (minor units). */
  readonly credited: Readonly<Record<string, number>>;
  /** Transfers whose reservation was confirmed or released, or whose credit was reversed: done. */
  readonly settled: readonly string[];
  readonly flagged?: { readonly reason: string; readonly fraudEventId: string };
  /**
   * The account's last `RECENT_TRANSACTIONS` transactions, oldest first: a client that retries an
   * `AddTransaction` (e.g. after a timeout that hid its success) gets no second transaction, and a
   * request that reuses a remembered id for another transaction is refused.
   */
  readonly recentTransactions: readonly RecentTransaction[];
}

/** What an account remembers of a recent transaction: enough to tell a retry from another request under its id. */
export interface RecentTransaction {
  readonly transactionId: string;
  /** Signed minor units. */
  readonly amount: number;
  readonly currency: Currency;
  /** The payee's country; absent when the transaction had no payee. (Not the name: see `sameTransaction`.) */
  readonly payeeCountry?: string;
}

/** How many transactions an account remembers to recognise a retried `AddTransaction` (a retry after 500 newer transactions is a new one). */
export const RECENT_TRANSACTIONS = 500;

export const initialWallet: WalletState = { opened: false, balance: 0, reserved: {}, credited: {}, settled: [], recentTransactions: [] };

/** What may be spent: the balance less what open transfers have reserved. */
export const available = (state: WalletState): number => state.balance - Object.values(state.reserved).reduce((sum, amount) => sum + amount, 0);

export type WalletCommand =
  | { readonly kind: 'OpenAccount'; readonly accountId: string; readonly holderName: string; readonly currency: Currency; readonly at: string }
  | { readonly kind: 'AddTransaction'; readonly accountId: string; readonly transactionId: string; readonly amount: Money; readonly payee?: { readonly name: string; readonly country: string }; readonly at: string }
  | { readonly kind: 'FlagAccount'; readonly accountId: string; readonly reason: string; readonly fraudEventId: string; readonly at: string }
  | { readonly kind: 'ClearAccount'; readonly accountId: string; readonly clearedBy: string; readonly at: string }
  | { readonly kind: 'ReserveFunds' | 'ReleaseReservation' | 'ConfirmReservation' | 'CreditTransfer' | 'ReverseCredit'; readonly accountId: string; readonly transferId: string; readonly amount: Money; readonly at: string }
  /** Records that a transfer step was refused (`refuseTransferStep`), so the saga waiting for it learns of it. */
  | { readonly kind: 'RefuseTransferStep'; readonly step: keyof typeof TRANSFER_REFUSALS; readonly accountId: string; readonly transferId: string; readonly code: string; readonly reason: string; readonly at: string };

const reject = (code: string, message: string): never => {
  throw new DomainRejection(code, message);
};

function requireOpen(state: WalletState, accountId: string): void {
  if (!state.opened) reject('AccountNotFound', `there is no account ${accountId}`);
}

function requireCurrency(state: WalletState, money: Money): void {
  if (money.currency !== state.currency) reject('CurrencyMismatch', `the account is in ${state.currency}, the amount in ${money.currency}`);
}

function requireSpendable(state: WalletState, accountId: string, amount: number): void {
  if (state.flagged) reject('AccountFlagged', `account ${accountId} is flagged after a fraud detection: debits are refused until it is cleared`);
  if (available(state) < amount) reject('InsufficientFunds', `account ${accountId} has ${available(state)} available, ${amount} needed`);
}

/**
 * Whether `command` asks again for the transaction the account remembers under its id: the same
 * amount, currency and payee country (or no payee, both times). The payee's name is not compared:
 * it is personal data, sealed in the event the state is folded from — the decider cannot open it,
 * and a copy or digest of it kept here would outlive the subject's erasure — so a retry that changes
 * only the name counts as the same request.
 */
function sameTransaction(earlier: RecentTransaction, command: Extract<WalletCommand, { kind: 'AddTransaction' }>): boolean {
  return earlier.amount === command.amount.amount && earlier.currency === command.amount.currency && earlier.payeeCountry === command.payee?.country;
}

const step = (type: Extract<WalletEvent, { data: z.infer<typeof TransferStepV1> }>['type'], command: Extract<WalletCommand, { transferId: string; amount: Money }>): WalletEvent[] => [
  { type, data: { accountId: command.accountId, transferId: command.transferId, amount: command.amount, at: command.at } },
];

/** Decides a wallet command. Pure: time and ids arrive in the command. Repeats of a transfer step are no-ops. */
export function decideWallet(command: WalletCommand, state: WalletState): Emitted<WalletEvent>[] {
  switch (command.kind) {
    case 'OpenAccount':
      if (state.opened) reject('AccountExists', `account ${command.accountId} is already open`);
      return [{ type: 'wallet.account.opened', data: { accountId: command.accountId, holder: { name: command.holderName }, currency: command.currency, openedAt: command.at } }];
    case 'AddTransaction': {
      requireOpen(state, command.accountId);
      const earlier = state.recentTransactions.find((transaction) => transaction.transactionId === command.transactionId);
      if (earlier) {
        // A retry of a transaction already added: answered with the account as it is, nothing added.
        if (sameTransaction(earlier, command)) return [];
        reject('TransactionIdReused', `transaction id ${command.transactionId} was already used for another request (another amount, currency or payee country); a new transaction needs a new id`);
      }
      requireCurrency(state, command.amount);
      if (command.amount.amount === 0) reject('InvalidAmount', 'a transaction moves a non-zero amount');
      if (command.amount.amount < 0) requireSpendable(state, command.accountId, -command.amount.amount);
      return [{ type: 'wallet.transaction.added', dataversion: TRANSACTION_ADDED_VERSION, data: { accountId: command.accountId, transactionId: command.transactionId, amount: command.amount, ...(command.payee ? { payee: command.payee } : {}), at: command.at } }];
    }
    case 'FlagAccount':
      requireOpen(state, command.accountId);
      if (state.flagged) return [];
      return [{ type: 'wallet.account.flagged', data: { accountId: command.accountId, reason: command.reason, fraudEventId: command.fraudEventId, flaggedAt: command.at } }];
    case 'ClearAccount':
      requireOpen(state, command.accountId);
      if (!state.flagged) reject('NotFlagged', `account ${command.accountId} is not flagged`);
      return [{ type: 'wallet.account.cleared', data: { accountId: command.accountId, clearedBy: command.clearedBy, clearedAt: command.at } }];
    // Transfer steps follow the saga's rules: every command is answered with an event (a repeat is
    // answered again; an undo with nothing to undo answers "undone"), and a step that arrives after
    // its compensation is refused, so a late step can never create or move money.
    case 'ReserveFunds':
      if (command.transferId in state.reserved) return step('wallet.funds.reserved', command);
      if (state.settled.includes(command.transferId)) reject('TransferSettled', `transfer ${command.transferId} was already settled on account ${command.accountId}`);
      requireOpen(state, command.accountId);
      requireCurrency(state, command.amount);
      requireSpendable(state, command.accountId, command.amount.amount);
      return step('wallet.funds.reserved', command);
    case 'ReleaseReservation':
      return step('wallet.funds.released', command);
    case 'ConfirmReservation':
      if (state.settled.includes(command.transferId)) return step('wallet.funds.reservation.confirmed', command);
      if (!(command.transferId in state.reserved)) reject('NoReservation', `transfer ${command.transferId} has no reservation on account ${command.accountId}`);
      if (state.flagged) reject('AccountFlagged', `account ${command.accountId} was flagged during the transfer: money does not leave it until it is cleared`);
      return step('wallet.funds.reservation.confirmed', command);
    case 'CreditTransfer':
      if (command.transferId in state.credited) return step('wallet.transfer.credited', command);
      if (state.settled.includes(command.transferId)) reject('TransferSettled', `transfer ${command.transferId} was already settled on account ${command.accountId}`);
      requireOpen(state, command.accountId);
      requireCurrency(state, command.amount);
      return step('wallet.transfer.credited', command);
    case 'ReverseCredit':
      return step('wallet.transfer.credit.reversed', command);
    case 'RefuseTransferStep':
      return refuseTransferStep({ kind: command.step, accountId: command.accountId, transferId: command.transferId, at: command.at }, command.code, command.reason);
  }
}

const settle = (settled: readonly string[], transferId: string): string[] => (settled.includes(transferId) ? [...settled] : [...settled, transferId]);

const remembered = (data: TransactionAddedV2): RecentTransaction => ({
  transactionId: data.transactionId,
  amount: data.amount.amount,
  currency: data.amount.currency,
  ...(data.payee ? { payeeCountry: data.payee.country } : {}),
});

const without = (record: Readonly<Record<string, number>>, key: string): Record<string, number> => Object.fromEntries(Object.entries(record).filter(([k]) => k !== key));

/** The state after one event. Pure. */
export function evolveWallet(state: WalletState, event: WalletEvent): WalletState {
  switch (event.type) {
    case 'wallet.account.opened':
      return { ...state, opened: true, currency: event.data.currency };
    case 'wallet.transaction.added':
      return {
        ...state,
        balance: state.balance + event.data.amount.amount,
        recentTransactions: [...state.recentTransactions, remembered(event.data)].slice(-RECENT_TRANSACTIONS),
      };
    case 'wallet.account.flagged':
      return { ...state, flagged: { reason: event.data.reason, fraudEventId: event.data.fraudEventId } };
    case 'wallet.account.cleared': {
      const { flagged: _cleared, ...rest } = state;
      return rest;
    }
    case 'wallet.funds.reserved':
      return { ...state, reserved: { ...state.reserved, [event.data.transferId]: event.data.amount.amount } };
    case 'wallet.funds.released':
      return { ...state, reserved: without(state.reserved, event.data.transferId), settled: settle(state.settled, event.data.transferId) };
    case 'wallet.funds.reservation.confirmed':
      return { ...state, balance: state.balance - (state.reserved[event.data.transferId] ?? 0), reserved: without(state.reserved, event.data.transferId), settled: settle(state.settled, event.data.transferId) };
    case 'wallet.transfer.credited':
      if (event.data.transferId in state.credited) return state; // answered again: already counted
      return { ...state, balance: state.balance + event.data.amount.amount, credited: { ...state.credited, [event.data.transferId]: event.data.amount.amount } };
    case 'wallet.transfer.credit.reversed':
      return { ...state, balance: state.balance - (state.credited[event.data.transferId] ?? 0), credited: without(state.credited, event.data.transferId), settled: settle(state.settled, event.data.transferId) };
    case 'wallet.funds.reservation.refused':
    case 'wallet.transfer.credit.refused':
    case 'wallet.funds.confirmation.refused':
      return state; // a fact for the transfer's saga; the account is unchanged
  }
}

/**
 * A transfer step the account refuses is still recorded, on its stream, so that the saga waiting
 * for the step learns of it (an event, not a reply): the step's refusal event with the reason.
 */
export function refuseTransferStep(command: { readonly kind: keyof typeof TRANSFER_REFUSALS; readonly accountId: string; readonly transferId: string; readonly at: string }, code: string, reason: string): Emitted<WalletEvent>[] {
  return [{ type: TRANSFER_REFUSALS[command.kind], data: { accountId: command.accountId, transferId: command.transferId, code, reason, at: command.at } }];
}

/** The wallet aggregate as a decider for the toolkit's event store. */
export const walletDecider: Decider<WalletCommand, WalletState, WalletEvent> = {
  initialState: initialWallet,
  evolve: evolveWallet,
  decide: decideWallet,
};
