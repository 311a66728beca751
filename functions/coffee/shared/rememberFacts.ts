import type { TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';

/**
 * Records facts learnt from other services' events on an item, each only if not known yet: events of
 * different services may arrive in any order, and the result is the same. An update for the
 * consumer's transaction (with its inbox claim: `transactWrite(client, [rememberFacts(…)], { inbox })`).
 */
export function rememberFacts(tableName: string, key: Readonly<Record<string, string>>, facts: Readonly<Record<string, string>>): TransactWriteItem {
  const names = Object.keys(facts);
  return {
    Update: {
      TableName: tableName,
      Key: marshall(key),
      UpdateExpression: `SET ${names.map((_, i) => `#f${i} = if_not_exists(#f${i}, :v${i})`).join(', ')}`,
      ExpressionAttributeNames: Object.fromEntries(names.map((name, i) => [`#f${i}`, name])),
      ExpressionAttributeValues: marshall(Object.fromEntries(names.map((name, i) => [`:v${i}`, facts[name]]))),
    },
  };
}
