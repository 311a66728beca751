import { relayHandler } from '../toolkit/relay/relayHandler';
import { walletRegistry } from './schemas';

/**
 * The wallet outbox's relay: the generic one, which during the migration of
 * `wallet.transaction.added` to v2 also publishes each (euro) transaction as v1 on the bus, side by
 * side, so consumers still on v1 keep working until they move (their rules filter on
 * `detail.dataversion`). Remove `alsoPublish` when the last v1 consumer has moved.
 */
export const handler = relayHandler({ alsoPublish: walletRegistry.downcasts(['wallet.transaction.added']) });
