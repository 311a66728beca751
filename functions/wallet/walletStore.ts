import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import * as z from 'zod';
import { parseConfig } from '../toolkit/config/parseConfig';
import { EventStore, type EventSchemas } from '../toolkit/eventsource';
import { OUTBOX_ENV, OutboxConfigSchema } from '../toolkit/outbox';
import type { FieldSealer } from '../toolkit/privacy/ports';
import { Currency, walletRegistry } from './schemas';
import { walletDecider, type WalletCommand, type WalletEvent, type WalletState } from './wallet';

/**
 * The wallet's state as a snapshot stores it: every field of `WalletState`, strictly. A field the
 * schema does not name would be dropped on load without a word (zod strips unknown keys), and the
 * state after a snapshot would differ from the fold of its events; strict, such a state fails the
 * snapshot's check (`InvalidSnapshotError`) in the tests instead (test/unit/snapshotRoundTrip).
 */
export const WalletStateSchema: z.ZodType<WalletState> = z
  .object({
    opened: z.boolean(),
    currency: Currency.optional(),
    holderName: z.string().optional(),
    holderUserId: z.string().optional(),
    balance: z.number().int(),
    reserved: z.record(z.string(), z.number().int()),
    credited: z.array(z.object({ transferId: z.string(), amount: z.number().int(), at: z.number().int() }).strict()),
    settled: z.array(z.object({ transferId: z.string(), outcome: z.enum(['confirmed', 'released', 'reversed', 'refused']), at: z.number().int() }).strict()),
    forgottenUntil: z.number().int().optional(),
    clock: z.number().int().optional(),
    flagged: z.object({ reason: z.string(), fraudEventId: z.string() }).strict().optional(),
    recentTransactions: z.array(z.object({ transactionId: z.string(), amount: z.number().int(), currency: Currency, payeeCountry: z.string().optional() }).strict()),
  })
  .strict() as z.ZodType<WalletState>;

/**
 * 2: snapshots of version 1 lost the account's recent transactions (the schema dropped them), so a
 * retry after a snapshot was added twice; they are ignored, and the next load folds the stream from
 * its first event until an append writes a new snapshot. (Snapshots of another shape are ignored
 * too: the schema is strict, so they do not parse.)
 */
const SNAPSHOT_VERSION = 2;

const WALLET_TYPES = ['wallet.account.opened', 'wallet.transaction.added', 'wallet.account.flagged', 'wallet.account.cleared', 'wallet.funds.reserved', 'wallet.funds.released', 'wallet.funds.reservation.confirmed', 'wallet.transfer.credited', 'wallet.transfer.credit.reversed', 'wallet.funds.reservation.refused', 'wallet.transfer.credit.refused', 'wallet.funds.confirmation.refused'] as const;

/** Each wallet event type's latest schema, from the registry. */
const latestSchemas = Object.fromEntries(WALLET_TYPES.map((type) => [type, walletRegistry.latest(type).schema])) as unknown as EventSchemas<WalletEvent>;

/** The wallet's event store: its outbox table, every event kept for good, snapshots every 20 events. */
export function walletStore(dynamodb: DynamoDBClient, sealer?: FieldSealer, table?: { readonly tableName: string; readonly source: string }): EventStore<WalletCommand, WalletState, WalletEvent> {
  const where = table ?? (() => {
    const config = parseConfig(OutboxConfigSchema);
    return { tableName: config[OUTBOX_ENV.tableName], source: config[OUTBOX_ENV.source] };
  })();
  return new EventStore({
    client: dynamodb,
    ...where,
    decider: walletDecider,
    events: latestSchemas,
    state: WalletStateSchema,
    snapshotEvery: 20,
    snapshotVersion: SNAPSHOT_VERSION,
    upcast: walletRegistry.upcaster(),
    // The holder's and payees' names are sealed for the account before anything is written.
    ...(sealer ? { privacy: { sealer, schemas: latestSchemas as unknown as Record<string, z.ZodType> } } : {}),
  });
}
