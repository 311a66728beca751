import type { TransactionAddedV2 } from '../wallet/schemas';

/** What the anti-fraud service remembers of an account, built only from the wallet's events. */
export interface AccountWatch {
  /** Recent transactions inside the longest window a rule looks at (oldest first). */
  readonly recent: readonly { readonly transactionId: string; readonly at: string; readonly amount: number }[];
  /** Countries the account has paid before. */
  readonly payeeCountries: readonly string[];
}

export const emptyWatch: AccountWatch = { recent: [], payeeCountries: [] };

export interface FraudRulesConfig {
  /** More than `maxTransactions` within `windowSeconds` is suspicious. */
  readonly velocity: { readonly maxTransactions: number; readonly windowSeconds: number };
  /** A single debit above this many minor units is suspicious. */
  readonly largeDebitMinorUnits: number;
  /** Where the account's holders live: a first payment to another country is suspicious. */
  readonly homeCountry: string;
}

export const DEFAULT_FRAUD_RULES: FraudRulesConfig = { velocity: { maxTransactions: 5, windowSeconds: 60 }, largeDebitMinorUnits: 100_000, homeCountry: 'NL' };

export interface Detection {
  readonly rule: 'velocity' | 'large-debit' | 'new-payee-abroad';
  /** For people and logs: amounts, counts and countries; never a name. */
  readonly detail: string;
  readonly transactionIds: string[];
  /** When the transaction that made the rule fire happened (the detection's time). */
  readonly at: string;
}

/**
 * Applies one transaction to an account's watch and runs every rule on it. Pure: time comes from
 * the event. Replaying the same events gives the same watch and the same detections.
 */
export function watchTransaction(watch: AccountWatch, transaction: TransactionAddedV2, config: FraudRulesConfig = DEFAULT_FRAUD_RULES): { watch: AccountWatch; detections: Detection[] } {
  const at = Date.parse(transaction.at);
  const windowStart = at - config.velocity.windowSeconds * 1000;
  const recent = [...watch.recent, { transactionId: transaction.transactionId, at: transaction.at, amount: transaction.amount.amount }].filter((t) => Date.parse(t.at) > windowStart);
  const detections: Detection[] = [];

  const burst = recent.length > config.velocity.maxTransactions;
  if (burst) {
    detections.push({ rule: 'velocity', detail: `${recent.length} transactions within ${config.velocity.windowSeconds} s (at most ${config.velocity.maxTransactions})`, transactionIds: recent.map((t) => t.transactionId), at: transaction.at });
  }
  const debit = -transaction.amount.amount;
  if (debit > config.largeDebitMinorUnits) {
    detections.push({ rule: 'large-debit', detail: `a debit of ${debit} ${transaction.amount.currency} minor units (limit ${config.largeDebitMinorUnits})`, transactionIds: [transaction.transactionId], at: transaction.at });
  }
  const country = transaction.payee?.country;
  const newCountry = country !== undefined && !watch.payeeCountries.includes(country);
  if (debit > 0 && newCountry && country !== config.homeCountry) {
    detections.push({ rule: 'new-payee-abroad', detail: `a first payment to a payee in ${country} (home ${config.homeCountry})`, transactionIds: [transaction.transactionId], at: transaction.at });
  }
  // A burst is reported once: its transactions do not count towards the next one.
  return { watch: { recent: burst ? [] : recent, payeeCountries: newCountry ? [...watch.payeeCountries, country] : watch.payeeCountries }, detections };
}

/** An account's watch as the anti-fraud service keeps it: the rules' memory and its place in the account's log. */
export interface WatchedAccount {
  readonly watch: AccountWatch;
  /** The sequence of the last wallet event of the account folded in (of any type). */
  readonly lastSequence: number;
}

/** Where an incoming event of an account's log stands against the watch: applied before, next, or after a gap. */
export type LogPosition = { readonly kind: 'applied-before' } | { readonly kind: 'next' } | { readonly kind: 'gap'; readonly after: number; readonly before: number };

/** Pure: an event at or below the watch's position was folded in already (it is a contiguous prefix of the log). */
export function positionOf(account: WatchedAccount | undefined, sequence: number): LogPosition {
  const last = account?.lastSequence ?? 0;
  if (sequence <= last) return { kind: 'applied-before' };
  return sequence === last + 1 ? { kind: 'next' } : { kind: 'gap', after: last, before: sequence };
}

/**
 * Folds an account's wallet events, in log order, into its watch: transactions run the rules, other
 * events only move the position. Refuses a list that is not the contiguous continuation of the watch
 * (a sequence missing, repeated or out of order): the rules would otherwise see another history than
 * the account's. Pure.
 */
export function followLog(
  account: WatchedAccount | undefined,
  events: ReadonlyArray<{ readonly sequence: number; readonly transaction?: TransactionAddedV2 }>,
  config: FraudRulesConfig = DEFAULT_FRAUD_RULES,
): WatchedAccount & { readonly detections: Detection[] } {
  let watch = account?.watch ?? emptyWatch;
  let lastSequence = account?.lastSequence ?? 0;
  const detections: Detection[] = [];
  for (const event of events) {
    if (event.sequence !== lastSequence + 1) throw new RangeError(`the account's log continues at sequence ${lastSequence + 1}, not ${event.sequence}`);
    lastSequence = event.sequence;
    if (event.transaction === undefined) continue;
    const step = watchTransaction(watch, event.transaction, config);
    watch = step.watch;
    detections.push(...step.detections);
  }
  return { watch, lastSequence, detections };
}
