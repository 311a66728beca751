import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseConfig } from '../config/parseConfig';
import { Outbox } from './Outbox';
import { OUTBOX_ENV, OutboxConfigSchema } from './outboxConfig';

/** The service's outbox, configured from the environment the `TransactionalOutbox` construct grants. */
export function outboxFromEnv(client: DynamoDBClient): { readonly outbox: Outbox; readonly tableName: string } {
  const config = parseConfig(OutboxConfigSchema);
  const tableName = config[OUTBOX_ENV.tableName];
  const retention = config[OUTBOX_ENV.retentionSeconds];
  return { tableName, outbox: new Outbox({ client, tableName, source: config[OUTBOX_ENV.source], ...(retention === undefined ? {} : { retentionSeconds: retention }) }) };
}
