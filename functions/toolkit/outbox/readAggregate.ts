import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { OUTBOX } from './outboxItem';

/** An aggregate as read for a decision: its state attributes and the version to expect on commit. */
export interface LoadedAggregate<S> {
  readonly state: S;
  readonly version: number;
}

/**
 * Reads an aggregate's item (strongly consistent, so a decision never rests on a stale read) and
 * splits it into state and version; `undefined` when it does not exist (commit with version 0).
 */
export async function readAggregate<S>(client: DynamoDBClient, tableName: string, key: Readonly<Record<string, string>>): Promise<LoadedAggregate<S> | undefined> {
  const { Item } = await client.send(new GetItemCommand({ TableName: tableName, Key: marshall(key), ConsistentRead: true }));
  if (!Item) return undefined;
  const item = unmarshall(Item);
  const version = typeof item[OUTBOX.versionAttribute] === 'number' ? (item[OUTBOX.versionAttribute] as number) : 0;
  for (const name of [...Object.keys(key), OUTBOX.versionAttribute]) delete item[name];
  return { state: item as S, version };
}
