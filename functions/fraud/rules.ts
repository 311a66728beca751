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
    detections.push({ rule: 'velocity', detail: `${recent.length} transactions within ${config.velocity.windowSeconds} s (at most ${config.velocity.maxTransactions})`, transactionIds: recent.map((t) => t.transactionId) });
  }
  const debit = -transaction.amount.amount;
  if (debit > config.largeDebitMinorUnits) {
    detections.push({ rule: 'large-debit', detail: `a debit of ${debit} ${transaction.amount.currency} minor units (limit ${config.largeDebitMinorUnits})`, transactionIds: [transaction.transactionId] });
  }
  const country = transaction.payee?.country;
  const newCountry = country !== undefined && !watch.payeeCountries.includes(country);
  if (debit > 0 && newCountry && country !== config.homeCountry) {
    detections.push({ rule: 'new-payee-abroad', detail: `a first payment to a payee in ${country} (home ${config.homeCountry})`, transactionIds: [transaction.transactionId] });
  }
  // A burst is reported once: its transactions do not count towards the next one.
  return { watch: { recent: burst ? [] : recent, payeeCountries: newCountry ? [...watch.payeeCountries, country] : watch.payeeCountries }, detections };
}
