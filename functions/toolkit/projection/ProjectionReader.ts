import { GetItemCommand, QueryCommand, ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type * as z from 'zod';
import { SUMMARY_KEY, type ProjectionRow } from './catchUp';
import { PROJECTION, toRow, toSummary } from './projectionItem';

export interface ProjectionReaderOptions<S> {
  readonly dynamodb: DynamoDBClient;
  readonly tableName: string;
  /** Validates each row's state as it is read (a query API's boundary). @default trusted as written */
  readonly state?: z.ZodType<S>;
}

export interface ProjectionPage<S> {
  readonly rows: ProjectionRow<S>[];
  /** Pass to `page()` for the next page; absent on the last one. */
  readonly cursor?: string;
}

/** Reads a projection's rows and summary for a query API: reads never touch the write model. */
export class ProjectionReader<S> {
  constructor(private readonly options: ProjectionReaderOptions<S>) {}

  /** One row, read consistently; `undefined` if the key has none. */
  async get(key: string): Promise<ProjectionRow<S> | undefined> {
    if (key === SUMMARY_KEY) return undefined;
    const { Item } = await this.options.dynamodb.send(
      new GetItemCommand({ TableName: this.options.tableName, Key: marshall({ [PROJECTION.partitionKey]: key }), ConsistentRead: true }),
    );
    return Item ? toRow<S>(unmarshall(Item), this.options.state) : undefined;
  }

  /** One page of rows (a `Scan`, without the summary item), in no particular order. */
  async page(options: { readonly limit?: number; readonly cursor?: string } = {}): Promise<ProjectionPage<S>> {
    const { Items = [], LastEvaluatedKey } = await this.options.dynamodb.send(
      new ScanCommand({
        TableName: this.options.tableName,
        FilterExpression: '#pk <> :summary',
        ExpressionAttributeNames: { '#pk': PROJECTION.partitionKey },
        ExpressionAttributeValues: { ':summary': { S: SUMMARY_KEY } },
        ...(options.limit === undefined ? {} : { Limit: options.limit }),
        ...(options.cursor === undefined ? {} : { ExclusiveStartKey: decodeCursor(options.cursor) }),
      }),
    );
    return { rows: Items.map((item) => toRow<S>(unmarshall(item), this.options.state)), ...(LastEvaluatedKey ? { cursor: encodeCursor(LastEvaluatedKey) } : {}) };
  }

  /** Every row, page by page. */
  async *list(): AsyncIterable<ProjectionRow<S>> {
    let cursor: string | undefined;
    do {
      const page = await this.page(cursor === undefined ? {} : { cursor });
      yield* page.rows;
      cursor = page.cursor;
    } while (cursor !== undefined);
  }

  /**
   * Every row whose `attribute` is `value`, from the table's index `indexName` on that attribute (a
   * `Query`, page by page): e.g. the open orders of one stage, without reading the closed ones.
   */
  async *byIndex(indexName: string, attribute: string, value: string): AsyncIterable<ProjectionRow<S>> {
    let start: Record<string, AttributeValue> | undefined;
    do {
      const { Items = [], LastEvaluatedKey } = await this.options.dynamodb.send(
        new QueryCommand({
          TableName: this.options.tableName,
          IndexName: indexName,
          KeyConditionExpression: '#attribute = :value',
          ExpressionAttributeNames: { '#attribute': attribute },
          ExpressionAttributeValues: { ':value': { S: value } },
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of Items) yield toRow<S>(unmarshall(item), this.options.state);
      start = LastEvaluatedKey;
    } while (start !== undefined);
  }

  /** The summary counters (what `apply` returned as `summary`, added up); `{}` before any. */
  async summary(): Promise<Record<string, number>> {
    const { Item } = await this.options.dynamodb.send(
      new GetItemCommand({ TableName: this.options.tableName, Key: marshall({ [PROJECTION.partitionKey]: SUMMARY_KEY }), ConsistentRead: true }),
    );
    return toSummary(Item ? unmarshall(Item) : undefined);
  }
}

/** The cursor is the last key read (a row key, not personal data), opaque to callers. */
const encodeCursor = (key: Record<string, AttributeValue>): string => Buffer.from(JSON.stringify(unmarshall(key))).toString('base64url');

function decodeCursor(cursor: string): Record<string, AttributeValue> {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new RangeError('invalid page cursor');
  }
  const pk = (key as { pk?: unknown } | null)?.pk;
  if (typeof pk !== 'string' || pk.length === 0) throw new RangeError('invalid page cursor');
  return marshall({ [PROJECTION.partitionKey]: pk });
}
