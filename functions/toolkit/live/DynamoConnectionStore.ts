import { DeleteItemCommand, PutItemCommand, ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Connection, ConnectionStore } from './ports';

/** The connections table's key attribute (string partition key, no sort key). */
export const CONNECTION_KEY = 'connectionId';
/** The connections table's TTL attribute (epoch seconds). */
export const CONNECTION_TTL_ATTRIBUTE = 'expiresAt';

/** Open connections in a DynamoDB table keyed by `connectionId`, dropped by TTL after `expiresAt`. */
export class DynamoConnectionStore implements ConnectionStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async add(connection: Connection): Promise<void> {
    await this.client.send(new PutItemCommand({ TableName: this.tableName, Item: marshall(connection) }));
  }

  async remove(connectionId: string): Promise<void> {
    await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: { [CONNECTION_KEY]: { S: connectionId } } }));
  }

  /** Strongly consistent, so a client that has just connected gets the next push. */
  async *pages(): AsyncIterable<readonly string[]> {
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          ProjectionExpression: '#id',
          ExpressionAttributeNames: { '#id': CONNECTION_KEY },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      const ids = (page.Items ?? []).flatMap((item) => (item[CONNECTION_KEY]?.S ? [item[CONNECTION_KEY].S] : []));
      if (ids.length > 0) yield ids;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }
}
