import type * as z from 'zod';
import type { Decider, DomainEvent, Emitted } from '../toolkit/eventsource';
import { DomainRejection } from '../toolkit/eventsource';
import { isClientId } from '../toolkit/http/clientId';
import { walletRegistry, type AccountClearedV1, type AccountFlaggedV1, type AccountOpenedV2, type Currency, type Money, type TransactionAddedV2, type TransferStepRefusedV1, type TransferStepV1 } from './schemas';

/** Transactions are written in the latest version of their schema (2: amounts carry their currency). */
const TRANSACTION_ADDED_VERSION = walletRegistry.latest('wallet.transaction.added').version;
const ACCOUNT_OPENED_VERSION = walletRegistry.latest('wallet.account.opened').version;

/** The wallet's events as its decider sees them: always at the latest version (the store upcasts). */
export type WalletEvent =
  | DomainEvent<'wallet.account.opened', z.infer<typeof AccountOpenedV2>>
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
  /**
   * The holder's name as the opened event carries it: in a stored state (folded from the committed
   * events) always sealed for the account, never plaintext. Lets the API tell a retried `OpenAccount`
   * from another request that reuses the id. Absent in snapshots taken before it existed.
   */
  readonly holderName?: string;
  /**
   * The holder's user id (the user pool's `sub`), sealed like the name: only they may use the account.
   * Absent on accounts opened before it was recorded, which then belong to nobody who can prove it.
   */
  readonly holderUserId?: string;
  /** Minor units: every transaction, confirmed transfer out, and transfer credited in. At most `MAX_BALANCE` by credits. */
  readonly balance: number;
  /** Open reservations of transfers out, by transfer id (minor units). Never forgotten (they hold money); at most `MAX_OPEN_RESERVATIONS`. */
  readonly reserved: Readonly<Record<string, number>>;
  /** Transfers credited in and not reversed, oldest first (by time): remembered for the transfer memory, at most `MAX_REMEMBERED_CREDITS`. */
  readonly credited: readonly Credit[];
  /** Transfers over on this account (confirmed, released, reversed or refused), oldest first (by their latest step's time): remembered for the transfer memory, at most `MAX_REMEMBERED_SETTLED`. */
  readonly settled: readonly Settlement[];
  /** The time (epoch ms) of the latest settled transfer or credit the account has forgotten (see `TRANSFER_MEMORY_DAYS`). */
  readonly forgottenUntil?: number;
  /** The latest time (epoch ms) of the account's events: its clock (the decider has no other). */
  readonly clock?: number;
  readonly flagged?: { readonly reason: string; readonly fraudEventId: string };
  /**
   * The account's last `RECENT_TRANSACTIONS` transactions, oldest first: a client that retries an
   * `AddTransaction` (e.g. after a timeout that hid its success) gets no second transaction, and a
   * request that reuses a remembered id for another transaction is refused.
   */
  readonly recentTransactions: readonly RecentTransaction[];
}

/** A transfer credited in: how much, and when (the credit's event time, epoch ms). */
export interface Credit {
  readonly transferId: string;
  readonly amount: number;
  readonly at: number;
}

/** How a transfer ended on this account, and when (its latest step's time, epoch ms). A confirmed reservation is never released. */
export interface Settlement {
  readonly transferId: string;
  readonly outcome: 'confirmed' | 'released' | 'reversed' | 'refused';
  readonly at: number;
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

/** The largest amount one transaction or one transfer moves, in minor units: 1,000,000.00. */
export const MAX_AMOUNT = 100_000_000;

/**
 * The largest balance credits may bring an account to, in minor units: 1,000,000,000.00. With every
 * balance at most this, and at most `MAX_OPEN_RESERVATIONS` reservations and `MAX_REMEMBERED_CREDITS`
 * credits of at most `MAX_AMOUNT` each, every sum the wallet makes stays an exact integer, more than
 * a thousand times below Number.MAX_SAFE_INTEGER (≈ 9.007e15): no state that cannot be written.
 */
export const MAX_BALANCE = 100_000_000_000;

/**
 * How long an account remembers a transfer it is done with (a settled step, a credit), by its
 * events' own times. The guarantee it keeps: a transfer step that arrives after its compensation —
 * a late `ReserveFunds` after `ReleaseReservation` (it would lock money for good), a late
 * `CreditTransfer` after `ReverseCredit` (it would create money) — or after its own refusal, is
 * refused; a `ReverseCredit` reverses exactly what was credited. It holds for every step that
 * reaches the account within 21 days of what it answers: a command lives at most 14 days in SQS
 * (the longest retention, the command queue's dead letters included), plus a week for the saga's
 * own hops. Beyond, the account no longer knows the transfer: a forward step (reserve, credit) of a
 * transfer it does not know is refused as stale when it was sent (`sentAt`, the saga's send time)
 * before the latest thing the account forgot, or longer than the memory ago — it may be one of the
 * forgotten. A reversal more than 21 days after its credit reverses nothing (the saga reverses
 * within a minute; a saga stuck for weeks is one for an operator).
 */
export const TRANSFER_MEMORY_DAYS = 21;
const TRANSFER_MEMORY_MS = TRANSFER_MEMORY_DAYS * 86_400_000;
/** How far apart the saga's and the wallet's clocks may be: a step sent this close after what was forgotten is stale too. */
const CLOCK_SKEW_MS = 60_000;

/** Open transfers out of one account at once (each holds money until confirmed or released). */
export const MAX_OPEN_RESERVATIONS = 50;
/**
 * Transfers credited in within the transfer memory (about 57 a day, sustained); more are refused
 * (the saga then releases the source) until older ones are forgotten. A credit is not forgotten
 * early: its reversal must find it.
 */
export const MAX_REMEMBERED_CREDITS = 1_200;
/**
 * Settled transfers an account remembers; beyond, the oldest are forgotten early (raising
 * `forgottenUntil`, so steps sent before them are refused as stale). Together with the other
 * bounds, a state at every limit is about 335 KiB of JSON (test/unit/walletStore.test.ts): its snapshot
 * fits one DynamoDB item (400 KB).
 */
export const MAX_REMEMBERED_SETTLED = 1_000;

/** The longest reason `wallet.account.flagged` v1 carries. */
const MAX_FLAG_REASON = 500;

export const initialWallet: WalletState = { opened: false, balance: 0, reserved: {}, credited: [], settled: [], recentTransactions: [] };

/** What may be spent: the balance less what open transfers have reserved. */
export const available = (state: WalletState): number => state.balance - Object.values(state.reserved).reduce((sum, amount) => sum + amount, 0);

type TransferStepKind = 'ReserveFunds' | 'ReleaseReservation' | 'ConfirmReservation' | 'CreditTransfer' | 'ReverseCredit';

export type WalletCommand =
  | { readonly kind: 'OpenAccount'; readonly accountId: string; readonly holderName: string; readonly holderUserId?: string; readonly currency: Currency; readonly at: string }
  | { readonly kind: 'AddTransaction'; readonly accountId: string; readonly transactionId: string; readonly amount: Money; readonly payee?: { readonly name: string; readonly country: string }; readonly at: string }
  | { readonly kind: 'FlagAccount'; readonly accountId: string; readonly reason: string; readonly fraudEventId: string; readonly at: string }
  | { readonly kind: 'ClearAccount'; readonly accountId: string; readonly clearedBy: string; readonly at: string }
  /** `at`: when the wallet applies it; `sentAt`: when the saga sent it (what staleness is judged by; `at` when absent). */
  | { readonly kind: TransferStepKind; readonly accountId: string; readonly transferId: string; readonly amount: Money; readonly at: string; readonly sentAt?: string }
  /** Records that a transfer step was refused (`refuseTransferStep`), so the saga waiting for it learns of it. */
  | { readonly kind: 'RefuseTransferStep'; readonly step: keyof typeof TRANSFER_REFUSALS; readonly accountId: string; readonly transferId: string; readonly code: string; readonly reason: string; readonly at: string };

type TransferStep = Extract<WalletCommand, { kind: TransferStepKind }>;

const reject = (code: string, message: string): never => {
  throw new DomainRejection(code, message);
};

/** Own entries only: a transfer id like "toString" must not find the prototype's. */
const entry = <T>(record: Readonly<Record<string, T>>, key: string): T | undefined => (Object.hasOwn(record, key) ? record[key] : undefined);
const find = <T extends { readonly transferId: string }>(list: readonly T[], transferId: string): T | undefined => list.find((item) => item.transferId === transferId);

function requireOpen(state: WalletState, accountId: string): void {
  if (!state.opened) reject('AccountNotFound', `there is no account ${accountId}`);
}

function requireCurrency(state: WalletState, money: Money): void {
  if (money.currency !== state.currency) reject('CurrencyMismatch', `the account is in ${state.currency}, the amount in ${money.currency}`);
}

/** A transaction's amount (signed) or a transfer's (positive): a non-zero integer of at most `MAX_AMOUNT` minor units either way. */
function requireAmount(amount: number, sign: 'signed' | 'positive'): void {
  if (!Number.isSafeInteger(amount) || amount === 0 || (sign === 'positive' && amount < 0)) reject('InvalidAmount', sign === 'positive' ? 'a transfer moves a positive amount' : 'a transaction moves a non-zero amount');
  if (Math.abs(amount) > MAX_AMOUNT) reject('AmountTooLarge', `an amount is at most ${MAX_AMOUNT} minor units`);
}

/** A credit may not take the balance above `MAX_BALANCE`. */
function requireRoom(state: WalletState, accountId: string, amount: number): void {
  if (state.balance + amount > MAX_BALANCE) reject('BalanceLimitExceeded', `account ${accountId} may hold at most ${MAX_BALANCE} minor units`);
}

function requireSpendable(state: WalletState, accountId: string, amount: number): void {
  if (state.flagged) reject('AccountFlagged', `account ${accountId} is flagged after a fraud detection: debits are refused until it is cleared`);
  if (available(state) < amount) reject('InsufficientFunds', `account ${accountId} has ${available(state)} available, ${amount} needed`);
}

/**
 * The checks of a forward step (reserve, credit) of a transfer the account has no open entry for:
 * it was not settled here, its id is a client id (the account keeps it as a key), and it is not
 * stale (see `TRANSFER_MEMORY_DAYS`).
 */
function requireNewTransfer(state: WalletState, command: TransferStep): void {
  if (find(state.settled, command.transferId)) reject('TransferSettled', `transfer ${command.transferId} was already settled on account ${command.accountId}`);
  if (!isClientId(command.transferId)) reject('InvalidTransferId', `transfer id ${command.transferId.slice(0, 64)} is not a client id`);
  const sent = Date.parse(command.sentAt ?? command.at);
  const now = Math.max(Date.parse(command.at), state.clock ?? -Infinity);
  const forgotten = state.forgottenUntil ?? -Infinity;
  if (!(sent > forgotten + CLOCK_SKEW_MS && sent >= now - TRANSFER_MEMORY_MS)) {
    reject('StaleTransferStep', `transfer ${command.transferId} was sent too long ago: account ${command.accountId} may have forgotten it`);
  }
}

/** A repeat of a forward step is answered again only if it asks for what was done; the same transfer id for another amount is a conflict. */
function requireSameTransfer(command: TransferStep, amount: number, currency: Currency | undefined): void {
  if (command.amount.amount !== amount || command.amount.currency !== currency) {
    reject('TransferIdReused', `transfer ${command.transferId} was already applied on account ${command.accountId} with another amount`);
  }
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

const step = (type: Extract<WalletEvent, { data: z.infer<typeof TransferStepV1> }>['type'], command: TransferStep): WalletEvent[] => [
  { type, data: { accountId: command.accountId, transferId: command.transferId, amount: command.amount, at: command.at } },
];

/**
 * Decides a wallet command. Pure: time and ids arrive in the command (the account first forgets
 * what the command's time puts beyond its transfer memory). Repeats of a transfer step are answered
 * again and change nothing.
 */
export function decideWallet(command: WalletCommand, current: WalletState): Emitted<WalletEvent>[] {
  const state = forget(current, Math.max(current.clock ?? -Infinity, Date.parse(command.at)));
  switch (command.kind) {
    case 'OpenAccount':
      if (state.opened) reject('AccountExists', `account ${command.accountId} is already open`);
      return [{ type: 'wallet.account.opened', dataversion: ACCOUNT_OPENED_VERSION, data: { accountId: command.accountId, holder: { name: command.holderName, ...(command.holderUserId === undefined ? {} : { userId: command.holderUserId }) }, currency: command.currency, openedAt: command.at } }];
    case 'AddTransaction': {
      requireOpen(state, command.accountId);
      // The id is kept (recentTransactions): a client id, as the HTTP API takes it, so the memory stays bounded.
      if (!isClientId(command.transactionId)) reject('InvalidTransactionId', `transaction id ${command.transactionId.slice(0, 64)} is not a client id`);
      const earlier = state.recentTransactions.find((transaction) => transaction.transactionId === command.transactionId);
      if (earlier) {
        // A retry of a transaction already added: answered with the account as it is, nothing added.
        if (sameTransaction(earlier, command)) return [];
        reject('TransactionIdReused', `transaction id ${command.transactionId} was already used for another request (another amount, currency or payee country); a new transaction needs a new id`);
      }
      requireCurrency(state, command.amount);
      requireAmount(command.amount.amount, 'signed');
      if (command.amount.amount < 0) requireSpendable(state, command.accountId, -command.amount.amount);
      else requireRoom(state, command.accountId, command.amount.amount);
      return [{ type: 'wallet.transaction.added', dataversion: TRANSACTION_ADDED_VERSION, data: { accountId: command.accountId, transactionId: command.transactionId, amount: command.amount, ...(command.payee ? { payee: command.payee } : {}), at: command.at } }];
    }
    case 'FlagAccount':
      requireOpen(state, command.accountId);
      if (state.flagged) return [];
      // The reason comes from the fraud event (rule and detail, up to 1,000+ characters); the published
      // event keeps at most 500: cut, so that the flag is always written.
      return [{ type: 'wallet.account.flagged', data: { accountId: command.accountId, reason: command.reason.slice(0, MAX_FLAG_REASON), fraudEventId: command.fraudEventId, flaggedAt: command.at } }];
    case 'ClearAccount':
      requireOpen(state, command.accountId);
      if (!state.flagged) reject('NotFlagged', `account ${command.accountId} is not flagged`);
      return [{ type: 'wallet.account.cleared', data: { accountId: command.accountId, clearedBy: command.clearedBy, clearedAt: command.at } }];
    // Transfer steps follow the saga's rules: every command is answered with an event (a repeat is
    // answered again; an undo with nothing to undo answers "undone"), and a step that arrives after
    // its compensation, or after the step was refused, is refused: a late or repeated step can never
    // create, lock or move money the saga has already accounted for.
    case 'ReserveFunds': {
      const reserved = entry(state.reserved, command.transferId);
      if (reserved !== undefined) {
        requireSameTransfer(command, reserved, state.currency);
        return step('wallet.funds.reserved', command);
      }
      requireNewTransfer(state, command);
      requireOpen(state, command.accountId);
      requireCurrency(state, command.amount);
      requireAmount(command.amount.amount, 'positive');
      if (Object.keys(state.reserved).length >= MAX_OPEN_RESERVATIONS) reject('TooManyOpenTransfers', `account ${command.accountId} has ${MAX_OPEN_RESERVATIONS} transfers open; try again when one is done`);
      requireSpendable(state, command.accountId, command.amount.amount);
      return step('wallet.funds.reserved', command);
    }
    case 'ReleaseReservation':
      // The money left the account (the confirmation happened, e.g. after the saga timed it out): a
      // release would report a compensation that did not happen. Refused, so the saga fails for an operator.
      if (find(state.settled, command.transferId)?.outcome === 'confirmed') reject('TransferConfirmed', `transfer ${command.transferId} was confirmed on account ${command.accountId}: its reservation cannot be released`);
      return step('wallet.funds.released', command);
    case 'ConfirmReservation': {
      const settled = find(state.settled, command.transferId);
      if (settled?.outcome === 'confirmed') return step('wallet.funds.reservation.confirmed', command);
      // Released, or its confirmation already refused (the saga is compensating): refused again.
      if (settled) reject('TransferSettled', `transfer ${command.transferId} was already settled on account ${command.accountId}`);
      if (entry(state.reserved, command.transferId) === undefined) reject('NoReservation', `transfer ${command.transferId} has no reservation on account ${command.accountId}`);
      if (state.flagged) reject('AccountFlagged', `account ${command.accountId} was flagged during the transfer: money does not leave it until it is cleared`);
      return step('wallet.funds.reservation.confirmed', command);
    }
    case 'CreditTransfer': {
      const credit = find(state.credited, command.transferId);
      if (credit) {
        requireSameTransfer(command, credit.amount, state.currency);
        return step('wallet.transfer.credited', command);
      }
      requireNewTransfer(state, command);
      requireOpen(state, command.accountId);
      requireCurrency(state, command.amount);
      requireAmount(command.amount.amount, 'positive');
      if (state.credited.length >= MAX_REMEMBERED_CREDITS) reject('TransferLimitReached', `account ${command.accountId} took ${MAX_REMEMBERED_CREDITS} transfers in within ${TRANSFER_MEMORY_DAYS} days; try again later`);
      requireRoom(state, command.accountId, command.amount.amount);
      return step('wallet.transfer.credited', command);
    }
    case 'ReverseCredit':
      return step('wallet.transfer.credit.reversed', command);
    case 'RefuseTransferStep':
      return refuseTransferStep({ kind: command.step, accountId: command.accountId, transferId: command.transferId, at: command.at }, command.code, command.reason);
  }
}

const remembered = (data: TransactionAddedV2): RecentTransaction => ({
  transactionId: data.transactionId,
  amount: data.amount.amount,
  currency: data.amount.currency,
  ...(data.payee ? { payeeCountry: data.payee.country } : {}),
});

const without = (record: Readonly<Record<string, number>>, key: string): Record<string, number> => (Object.hasOwn(record, key) ? Object.fromEntries(Object.entries(record).filter(([k]) => k !== key)) : { ...record });

/**
 * Marks a transfer as over on this account. A confirmation is never overwritten (a release after it
 * is refused on that ground); the time is the latest step's. Ids that are not client ids are not
 * kept: no forward step of such an id is ever accepted (`requireNewTransfer`), so there is nothing to refuse later.
 */
function settle(settled: readonly Settlement[], transferId: string, outcome: Settlement['outcome'], at: string): readonly Settlement[] {
  if (!isClientId(transferId)) return settled;
  const earlier = find(settled, transferId);
  const now: Settlement = { transferId, outcome: earlier?.outcome === 'confirmed' ? 'confirmed' : outcome, at: Math.max(earlier?.at ?? -Infinity, Date.parse(at)) };
  return byTime(earlier ? settled.filter((s) => s !== earlier) : settled, now);
}

/** `list` with `item` in its place by time (the lists are kept oldest first; events mostly come in time order). */
function byTime<T extends { readonly at: number }>(list: readonly T[], item: T): readonly T[] {
  if (list.length === 0 || list[list.length - 1]!.at <= item.at) return [...list, item];
  const index = list.findIndex((other) => other.at > item.at);
  return [...list.slice(0, index), item, ...list.slice(index)];
}

/** How many items at the head of a list (oldest first) are older than `horizon`. */
function olderThan(list: readonly { readonly at: number }[], horizon: number): number {
  let count = 0;
  while (count < list.length && list[count]!.at < horizon) count++;
  return count;
}

/**
 * The account without what is beyond its transfer memory at `now`: credits and settled transfers
 * older than `TRANSFER_MEMORY_DAYS`, and the oldest settled ones beyond `MAX_REMEMBERED_SETTLED`.
 * `forgottenUntil` moves to the latest time forgotten. Open reservations are never forgotten.
 */
function forget(state: WalletState, now: number): WalletState {
  const horizon = now - TRANSFER_MEMORY_MS;
  const oldCredits = olderThan(state.credited, horizon);
  const oldSettled = Math.max(olderThan(state.settled, horizon), state.settled.length - MAX_REMEMBERED_SETTLED);
  if (oldCredits === 0 && oldSettled === 0) return state;
  const latestForgotten = Math.max(state.forgottenUntil ?? -Infinity, state.credited[oldCredits - 1]?.at ?? -Infinity, state.settled[oldSettled - 1]?.at ?? -Infinity);
  return { ...state, credited: state.credited.slice(oldCredits), settled: state.settled.slice(oldSettled), forgottenUntil: latestForgotten };
}

/** When an event happened, by its own data. */
function timeOf(event: WalletEvent): string {
  switch (event.type) {
    case 'wallet.account.opened':
      return event.data.openedAt;
    case 'wallet.account.flagged':
      return event.data.flaggedAt;
    case 'wallet.account.cleared':
      return event.data.clearedAt;
    default:
      return event.data.at;
  }
}

/**
 * The state after one event. Pure: the account's clock is its events' times, and it forgets by it —
 * before the event, as `decideWallet` did before deciding it, and after (a settlement may pass the cap).
 */
export function evolveWallet(state: WalletState, event: WalletEvent): WalletState {
  const clock = Math.max(state.clock ?? -Infinity, Date.parse(timeOf(event)));
  return forget({ ...apply(forget(state, clock), event), clock }, clock);
}

function apply(state: WalletState, event: WalletEvent): WalletState {
  switch (event.type) {
    case 'wallet.account.opened':
      return { ...state, opened: true, currency: event.data.currency, ...(typeof event.data.holder.name === 'string' ? { holderName: event.data.holder.name } : {}), ...(typeof event.data.holder.userId === 'string' ? { holderUserId: event.data.holder.userId } : {}) };
    case 'wallet.transaction.added':
      return { ...state, balance: state.balance + event.data.amount.amount, recentTransactions: [...state.recentTransactions, remembered(event.data)].slice(-RECENT_TRANSACTIONS) };
    case 'wallet.account.flagged':
      return { ...state, flagged: { reason: event.data.reason, fraudEventId: event.data.fraudEventId } };
    case 'wallet.account.cleared': {
      const { flagged: _cleared, ...rest } = state;
      return rest;
    }
    case 'wallet.funds.reserved':
      if (entry(state.reserved, event.data.transferId) !== undefined) return state; // answered again: already reserved
      return { ...state, reserved: { ...state.reserved, [event.data.transferId]: event.data.amount.amount } };
    case 'wallet.funds.released':
      return { ...state, reserved: without(state.reserved, event.data.transferId), settled: settle(state.settled, event.data.transferId, 'released', event.data.at) };
    case 'wallet.funds.reservation.confirmed':
      return {
        ...state,
        balance: state.balance - (entry(state.reserved, event.data.transferId) ?? 0),
        reserved: without(state.reserved, event.data.transferId),
        settled: settle(state.settled, event.data.transferId, 'confirmed', event.data.at),
      };
    case 'wallet.transfer.credited':
      if (find(state.credited, event.data.transferId)) return state; // answered again: already counted
      return { ...state, balance: state.balance + event.data.amount.amount, credited: byTime(state.credited, { transferId: event.data.transferId, amount: event.data.amount.amount, at: Date.parse(event.data.at) }) };
    case 'wallet.transfer.credit.reversed': {
      const credit = find(state.credited, event.data.transferId);
      return {
        ...state,
        balance: state.balance - (credit?.amount ?? 0),
        credited: credit ? state.credited.filter((c) => c !== credit) : state.credited,
        settled: settle(state.settled, event.data.transferId, 'reversed', event.data.at),
      };
    }
    case 'wallet.funds.reservation.refused':
    case 'wallet.transfer.credit.refused':
    case 'wallet.funds.confirmation.refused':
      // A fact for the transfer's saga, which now compensates what came before: a repeat of the
      // refused step must not be applied later (e.g. once the account is cleared).
      return { ...state, settled: settle(state.settled, event.data.transferId, 'refused', event.data.at) };
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
