import { QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { parseEvent, type EventEnvelope } from '../envelope';
import { OUTBOX, outboxPartitionKey } from '../outbox/outboxItem';
import type { EventLog } from './ports';

/**
 * The services' outboxes as event logs (`{ source: tableName }`): one consistent `Query` of a
 * partition key's items, filtered to the outbox events in the asked sequence range, each envelope
 * parsed as published.
 */
export class DynamoEventLog implements EventLog {
  constructor(
    private readonly dynamodb: DynamoDBClient,
    private readonly tables: Readonly<Record<string, string>>,
  ) {}

  has(source: string): boolean {
    return Object.hasOwn(this.tables, source);
  }

  async read(source: string, partitionkey: string, after: number, before: number): Promise<EventEnvelope[]> {
    const tableName = this.tables[source];
    if (tableName === undefined || before - after < 2) return [];
    const events: EventEnvelope[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.dynamodb.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: '#pk = :pk',
          FilterExpression: '#kind = :kind AND #sequence BETWEEN :from AND :to',
          ExpressionAttributeNames: { '#pk': OUTBOX.partitionKey, '#kind': OUTBOX.kindAttribute, '#sequence': 'sequence' },
          ExpressionAttributeValues: { ':pk': { S: outboxPartitionKey(partitionkey) }, ':kind': { S: OUTBOX.kindValue }, ':from': { N: String(after + 1) }, ':to': { N: String(before - 1) } },
          ConsistentRead: true,
          ScanIndexForward: true,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of page.Items ?? []) {
        const event = parseEvent(unmarshall(item)[OUTBOX.envelopeAttribute]);
        if (event.source === source && event.partitionkey === partitionkey) events.push(event);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return events.sort((a, b) => Number(a.sequence) - Number(b.sequence));
  }
}
