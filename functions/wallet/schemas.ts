import * as z from 'zod';
import { personal } from '../toolkit/privacy/personal';
import { defineEventType, defineRegistry } from '../toolkit/schemas';

/**
 * The wallet's and the anti-fraud service's events, every version ever published, in one registry.
 * A published version never changes: to change an event, add a version with an upcaster (see
 * functions/toolkit/schemas/README.md); `npm run docs` publishes it, test/unit/schemaCompatibility
 * guards it. Every event's partition key is its `accountId`.
 */

/** CloudEvents `source` of the wallet's events. */
export const WALLET_SOURCE = 'wallet.accounts';
/** CloudEvents `source` of the anti-fraud service's events. */
export const FRAUD_SOURCE = 'fraud.detection';

export const Currency = z.enum(['EUR', 'USD', 'GBP']);
export type Currency = z.infer<typeof Currency>;

/** Signed minor units (cents): + credit, − debit. */
const MinorUnits = z.number().int().describe('signed minor units (cents): + credit, − debit');
export const Money = z.object({ amount: MinorUnits, currency: Currency });
export type Money = z.infer<typeof Money>;
const PositiveMoney = z.object({ amount: z.number().int().positive().describe('minor units (cents)'), currency: Currency });

const Timestamp = z.iso.datetime({ offset: true });
const Id = z.string().min(1).max(128);
/** An id a client chooses for an account, a transaction or a transfer (the HTTP APIs accept no other): the toolkit's one shape of ids that become keys. */
export { ClientId } from '../toolkit/http/clientId';
/** ISO 3166-1 alpha-2, upper case. */
const Country = z.string().regex(/^[A-Z]{2}$/, 'an ISO 3166-1 alpha-2 country code');
const Payee = z.object({ name: personal(z.string().min(1).max(200)), country: Country });

export const AccountOpenedV1 = z.object({ accountId: Id, holder: z.object({ name: personal(z.string().min(1).max(200)) }), currency: Currency, openedAt: Timestamp });
/** v2 adds the holder's user id (the user pool's `sub`, sealed like the name): who may use the account. */
export const AccountOpenedV2 = z.object({ accountId: Id, holder: z.object({ name: personal(z.string().min(1).max(200)), userId: personal(z.string().min(1).max(128)).optional() }), currency: Currency, openedAt: Timestamp });
/** A v1 account was opened before holders signed in: it has no holder id (nobody can prove they hold it). */
export const accountOpenedV1ToV2 = (v1: z.infer<typeof AccountOpenedV1>): z.input<typeof AccountOpenedV2> => v1;

export const TransactionAddedV1 = z.object({ accountId: Id, transactionId: Id, amount: MinorUnits, payee: Payee.optional(), at: Timestamp });
export const TransactionAddedV2 = z.object({ accountId: Id, transactionId: Id, amount: Money, payee: Payee.optional(), at: Timestamp });
export type TransactionAddedV1 = z.infer<typeof TransactionAddedV1>;
export type TransactionAddedV2 = z.infer<typeof TransactionAddedV2>;

/** v1 predates multi-currency: every v1 amount was in euros. */
export const transactionAddedV1ToV2 = (v1: TransactionAddedV1): z.input<typeof TransactionAddedV2> => ({ ...v1, amount: { amount: v1.amount, currency: 'EUR' } });

/**
 * For v1 consumers during the migration: a euro amount loses only its currency. A transaction in
 * another currency cannot be told in v1 (a v1 reader would take it for euros), so it gets no v1 copy.
 */
export const transactionAddedV2ToV1 = (v2: TransactionAddedV2): z.input<typeof TransactionAddedV1> | undefined =>
  v2.amount.currency === 'EUR' ? { ...v2, amount: v2.amount.amount } : undefined;

export const AccountFlaggedV1 = z.object({ accountId: Id, reason: z.string().min(1).max(500), fraudEventId: Id, flaggedAt: Timestamp });
export const AccountClearedV1 = z.object({ accountId: Id, clearedBy: Id, clearedAt: Timestamp });
/** Every step of a transfer on one account: reserve/release/confirm on the source, credit/reverse on the target. */
export const TransferStepV1 = z.object({ accountId: Id, transferId: Id, amount: PositiveMoney, at: Timestamp });
/** A transfer step the account refused (the saga compensates what came before); `code` is the rejection's. */
export const TransferStepRefusedV1 = z.object({ accountId: Id, transferId: Id, code: z.string().min(1).max(64), reason: z.string().max(500), at: Timestamp });
export const FraudDetectedV1 = z.object({ accountId: Id, rule: z.string().min(1), detail: z.string().max(1000), transactionIds: z.array(Id), detectedAt: Timestamp });

const wallet = <const T extends string, S extends z.ZodType>(type: T, description: string, schema: S) =>
  defineEventType({ type, source: WALLET_SOURCE, description, versions: { 1: schema } });

export const TransactionAdded = defineEventType({
  type: 'wallet.transaction.added',
  source: WALLET_SOURCE,
  description: 'A transaction was recorded on an account (amount in signed minor units: + credit, − debit). v2 adds the currency; v1 amounts are euros.',
  versions: { 1: TransactionAddedV1, 2: TransactionAddedV2 },
  upcast: { 1: transactionAddedV1ToV2 },
  downcast: { 2: transactionAddedV2ToV1 },
});

export const walletRegistry = defineRegistry([
  defineEventType({
    type: 'wallet.account.opened',
    source: WALLET_SOURCE,
    description: 'An account was opened for a holder, in one currency. v2 adds the holder’s user id (sealed); v1 accounts have none.',
    versions: { 1: AccountOpenedV1, 2: AccountOpenedV2 },
    upcast: { 1: accountOpenedV1ToV2 },
  }),
  TransactionAdded,
  defineEventType({ type: 'wallet.account.flagged', source: WALLET_SOURCE, description: 'The account was flagged after a fraud detection: debits are refused until it is cleared.', versions: { 1: AccountFlaggedV1 } }),
  defineEventType({ type: 'wallet.account.cleared', source: WALLET_SOURCE, description: 'A flagged account was cleared by an operator.', versions: { 1: AccountClearedV1 } }),
  wallet('wallet.funds.reserved', 'Transfer step 1 (source account): the amount was reserved.', TransferStepV1),
  wallet('wallet.funds.released', 'Transfer compensation (source account): the reservation was released.', TransferStepV1),
  wallet('wallet.funds.reservation.confirmed', 'Transfer step 3 (source account): the reserved amount left the account.', TransferStepV1),
  wallet('wallet.transfer.credited', 'Transfer step 2 (target account): the amount was credited.', TransferStepV1),
  wallet('wallet.transfer.credit.reversed', 'Transfer compensation (target account): the credit was reversed.', TransferStepV1),
  wallet('wallet.funds.reservation.refused', 'Transfer step 1 refused by the source account (e.g. insufficient funds, flagged).', TransferStepRefusedV1),
  wallet('wallet.transfer.credit.refused', 'Transfer step 2 refused by the target account (e.g. no such account, another currency).', TransferStepRefusedV1),
  wallet('wallet.funds.confirmation.refused', 'Transfer step 3 refused by the source account (e.g. flagged during the transfer).', TransferStepRefusedV1),
  defineEventType({ type: 'fraud.detected', source: FRAUD_SOURCE, description: 'A fraud rule fired for an account; the transactions that made it fire are listed.', versions: { 1: FraudDetectedV1 } }),
]);
