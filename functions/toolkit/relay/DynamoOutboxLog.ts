import { QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseEvent } from '../envelope';
import { OUTBOX, outboxPartitionKey, outboxSortKey } from '../outbox/outboxItem';
import type { LoggedItem, OutboxLog, StreamKey } from './ports';

/**
 * The outbox table as the relay's log: one consistent Query of a stream's sort-key range
 * (`<subject>#<from>` … `<subject>#<to>`, zero-padded so the range is numeric), paged. An item whose
 * envelope does not parse is returned as unreadable (its reason only, never its content).
 */
export class DynamoOutboxLog implements OutboxLog {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async read(stream: StreamKey, from: number, to: number): Promise<LoggedItem[]> {
    const items: LoggedItem[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
          FilterExpression: '#kind = :kind',
          ExpressionAttributeNames: { '#pk': OUTBOX.partitionKey, '#sk': OUTBOX.sortKey, '#kind': OUTBOX.kindAttribute },
          ExpressionAttributeValues: {
            ':pk': { S: outboxPartitionKey(stream.partitionkey) },
            ':from': { S: outboxSortKey(stream.subject, from) },
            ':to': { S: outboxSortKey(stream.subject, to) },
            ':kind': { S: OUTBOX.kindValue },
          },
          ConsistentRead: true,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of page.Items ?? []) {
        const logged = toLoggedItem(stream, item);
        if (logged) items.push(logged);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items.sort((a, b) => a.sequence - b.sequence);
  }
}

/** The item as a logged event of this stream; `undefined` for another subject's item that shares the range. */
function toLoggedItem(stream: StreamKey, item: Record<string, AttributeValue>): LoggedItem | undefined {
  const sk = item[OUTBOX.sortKey]?.S ?? '';
  const sequence = Number(sk.slice(sk.lastIndexOf('#') + 1));
  if (!Number.isSafeInteger(sequence) || sk !== outboxSortKey(stream.subject, sequence)) return undefined;
  const ttl = Number(item[OUTBOX.ttlAttribute]?.N);
  const expiresAt = Number.isFinite(ttl) ? { expiresAt: ttl } : {};
  try {
    const raw = item[OUTBOX.envelopeAttribute]?.S;
    if (raw === undefined) throw new TypeError(`outbox item has no string attribute "${OUTBOX.envelopeAttribute}"`);
    const event = parseEvent(raw);
    if (event.partitionkey !== stream.partitionkey || event.subject !== stream.subject || Number(event.sequence) !== sequence) {
      throw new TypeError('the envelope does not match its outbox keys');
    }
    return { sequence, event, ...expiresAt };
  } catch (error) {
    return { sequence, unreadable: error instanceof Error ? `${error.name}: ${error.message}` : String(error), ...expiresAt };
  }
}
