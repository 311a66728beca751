import { SAGA_CLIENT_ENV, SagaClientConfigSchema } from '../toolkit/saga/sagaConfig';

/**
 * Where the transfers API starts and follows transfers: the transfer saga's queue and table, as
 * `Saga.grantStart` sets them for a `SagaClient`.
 */
export const WALLET_API_ENV = { transferQueueUrl: SAGA_CLIENT_ENV.queueUrl, transferTableName: SAGA_CLIENT_ENV.tableName } as const;

export const WalletApiConfigSchema = SagaClientConfigSchema;
