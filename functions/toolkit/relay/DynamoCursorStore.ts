import { BatchGetItemCommand, BatchWriteItemCommand, type AttributeValue, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { backoffDelay, sleep, type BackoffPolicy } from '../retry/backoff';
import { CURSOR } from './cursorItem';
import type { Cursor, CursorStore, StreamKey } from './ports';

/** BatchGetItem reads at most 100 keys per call, BatchWriteItem writes at most 25 items. */
const MAX_GET = 100;
const MAX_WRITE = 25;
const UNPROCESSED_RETRY: BackoffPolicy = { maxAttempts: 6, baseDelayMs: 50, maxDelayMs: 1000 };

/**
 * Cursors in their DynamoDB table: consistent BatchGetItem, unconditional BatchWriteItem (a cursor
 * written after publishing can only lag; see `relayBatch`). Unprocessed keys and items are retried
 * with backoff; what is still unprocessed after the last attempt throws.
 */
export class DynamoCursorStore implements CursorStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async get(streams: readonly StreamKey[]): Promise<Cursor[]> {
    const cursors: Cursor[] = [];
    for (let start = 0; start < streams.length; start += MAX_GET) {
      let keys: Array<Record<string, AttributeValue>> = streams.slice(start, start + MAX_GET).map(keyOf);
      for (let attempt = 1; keys.length > 0; attempt++) {
        const response = await this.client.send(new BatchGetItemCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } } }));
        for (const item of response.Responses?.[this.tableName] ?? []) cursors.push(fromItem(item));
        keys = response.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
        if (keys.length === 0) break;
        if (attempt >= UNPROCESSED_RETRY.maxAttempts) throw new Error(`cursor table left ${keys.length} key(s) unprocessed after ${attempt} attempts`);
        await sleep(backoffDelay(UNPROCESSED_RETRY, attempt));
      }
    }
    return cursors;
  }

  async put(cursors: readonly Cursor[]): Promise<void> {
    for (let start = 0; start < cursors.length; start += MAX_WRITE) {
      let requests: WriteRequest[] = cursors.slice(start, start + MAX_WRITE).map((cursor) => ({ PutRequest: { Item: toItem(cursor) } }));
      for (let attempt = 1; requests.length > 0; attempt++) {
        const response = await this.client.send(new BatchWriteItemCommand({ RequestItems: { [this.tableName]: requests } }));
        requests = response.UnprocessedItems?.[this.tableName] ?? [];
        if (requests.length === 0) break;
        if (attempt >= UNPROCESSED_RETRY.maxAttempts) throw new Error(`cursor table left ${requests.length} item(s) unprocessed after ${attempt} attempts`);
        await sleep(backoffDelay(UNPROCESSED_RETRY, attempt));
      }
    }
  }
}

const keyOf = (stream: StreamKey): Record<string, AttributeValue> => ({ [CURSOR.partitionKey]: { S: stream.partitionkey }, [CURSOR.sortKey]: { S: stream.subject } });

const toItem = (cursor: Cursor): Record<string, AttributeValue> => ({
  ...keyOf(cursor),
  [CURSOR.sequenceAttribute]: { N: String(cursor.sequence) },
  ...(cursor.expiresAt === undefined ? {} : { [CURSOR.ttlAttribute]: { N: String(cursor.expiresAt) } }),
});

function fromItem(item: Record<string, AttributeValue>): Cursor {
  const expiresAt = item[CURSOR.ttlAttribute]?.N;
  return {
    partitionkey: item[CURSOR.partitionKey]?.S ?? '',
    subject: item[CURSOR.sortKey]?.S ?? '',
    sequence: Number(item[CURSOR.sequenceAttribute]?.N ?? 0),
    ...(expiresAt === undefined ? {} : { expiresAt: Number(expiresAt) }),
  };
}
