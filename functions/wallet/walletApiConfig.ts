import * as z from 'zod';

/** Where the wallet API starts and follows transfers: the transfer saga's queue and table. */
export const WALLET_API_ENV = { transferQueueUrl: 'TRANSFER_QUEUE_URL', transferTableName: 'TRANSFER_TABLE_NAME' } as const;

export const WalletApiConfigSchema = z.object({ [WALLET_API_ENV.transferQueueUrl]: z.url(), [WALLET_API_ENV.transferTableName]: z.string().min(1) });
