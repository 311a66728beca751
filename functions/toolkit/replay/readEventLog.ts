import { QueryCommand, ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import * as z from 'zod';
import { parseEvent, type EventEnvelope } from '../envelope';
import { OUTBOX, outboxPartitionKey } from '../outbox/outboxItem';

/** One logged event: parsed, and the exact JSON that was published (what a replay sends again). */
export interface LoggedEvent {
  readonly envelope: EventEnvelope;
  readonly json: string;
}

/** A partition key's events, in commit order. */
export interface LoggedKey {
  readonly partitionkey: string;
  readonly events: LoggedEvent[];
}

export interface ReadEventLogOptions {
  readonly dynamodb: DynamoDBClient;
  /** An outbox table (`TransactionalOutbox`): its outbox items are the service's event log. */
  readonly tableName: string;
}

const LogItemSchema = z.object({ [OUTBOX.partitionKey]: z.string().startsWith('OUTBOX#'), [OUTBOX.envelopeAttribute]: z.string() });
const KeyItemSchema = z.object({ [OUTBOX.partitionKey]: z.string().startsWith('OUTBOX#') });

/**
 * An outbox table as an event log, key by key: a `Scan` of the outbox items (only their `pk`) finds
 * the partition keys, then one consistent `Query` per key returns its events in commit order (the
 * sort key is subject, then zero-padded sequence). Memory holds one key's events at a time (and the
 * set of keys seen, to query each once). Events committed while it runs are in the log if their key
 * is queried after the commit; otherwise the relay delivers them live — nothing falls between.
 */
export async function* readEventLog(options: ReadEventLogOptions): AsyncIterable<LoggedKey> {
  const { dynamodb, tableName } = options;
  for await (const partitionkey of outboxPartitionKeys(dynamodb, tableName)) {
    yield { partitionkey, events: await eventsOf(dynamodb, tableName, partitionkey) };
  }
}

/**
 * The partition keys of an outbox table's events, each once: a `Scan` of the outbox items that
 * returns only their `pk` (memory holds the set of keys seen).
 */
export async function* outboxPartitionKeys(dynamodb: DynamoDBClient, tableName: string): AsyncIterable<string> {
  const seen = new Set<string>();
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamodb.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: '#kind = :kind',
        ProjectionExpression: '#pk',
        ExpressionAttributeNames: { '#kind': OUTBOX.kindAttribute, '#pk': OUTBOX.partitionKey },
        ExpressionAttributeValues: { ':kind': { S: OUTBOX.kindValue } },
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    for (const item of page.Items ?? []) {
      const pk = KeyItemSchema.parse(unmarshall(item)).pk;
      if (seen.has(pk)) continue;
      seen.add(pk);
      yield pk.slice('OUTBOX#'.length);
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
}

/** A partition key's logged events in sort-key (commit) order, read consistently. */
export async function eventsOf(dynamodb: DynamoDBClient, tableName: string, partitionkey: string): Promise<LoggedEvent[]> {
  return (await outboxItemsOf(dynamodb, tableName, partitionkey)).map((item) => {
    const json = LogItemSchema.parse(unmarshall(item)).envelope;
    return { envelope: parseEvent(json), json };
  });
}

/** A partition key's outbox items as stored (attribute values), in sort-key order, read consistently. */
export async function outboxItemsOf(dynamodb: DynamoDBClient, tableName: string, partitionkey: string): Promise<Array<Record<string, AttributeValue>>> {
  const items: Array<Record<string, AttributeValue>> = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamodb.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: '#pk = :pk',
        FilterExpression: '#kind = :kind',
        ExpressionAttributeNames: { '#pk': OUTBOX.partitionKey, '#kind': OUTBOX.kindAttribute },
        ExpressionAttributeValues: { ':pk': { S: outboxPartitionKey(partitionkey) }, ':kind': { S: OUTBOX.kindValue } },
        ConsistentRead: true,
        ScanIndexForward: true,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}
