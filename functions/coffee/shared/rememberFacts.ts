import { UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';

/**
 * Records facts learnt from other services' events on an item, each only if not known yet: events
 * may arrive twice or (across services) in any order, and the result is the same.
 */
export async function rememberFacts(dynamodb: DynamoDBClient, tableName: string, key: Readonly<Record<string, string>>, facts: Readonly<Record<string, string>>): Promise<void> {
  const names = Object.keys(facts);
  await dynamodb.send(
    new UpdateItemCommand({
      TableName: tableName,
      Key: marshall(key),
      UpdateExpression: `SET ${names.map((_, i) => `#f${i} = if_not_exists(#f${i}, :v${i})`).join(', ')}`,
      ExpressionAttributeNames: Object.fromEntries(names.map((name, i) => [`#f${i}`, name])),
      ExpressionAttributeValues: marshall(Object.fromEntries(names.map((name, i) => [`:v${i}`, facts[name]]))),
    }),
  );
}
