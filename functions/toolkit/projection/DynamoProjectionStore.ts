import {
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  type DynamoDBClient,
  type Put,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type * as z from 'zod';
import { SUMMARY_KEY, type ProjectionRow } from './catchUp';
import { ProjectionConflictError, ProjectionError } from './errors';
import type { ProjectionStore } from './ports';
import { PROJECTION, toItem, toRow, type RowAttributes } from './projectionItem';

/** Cancellation reasons that mean another write got there first: load again and retry. */
const CONFLICTS = new Set(['ConditionalCheckFailed', 'TransactionConflict']);

/**
 * Rows in a DynamoDB table (partition key `pk`), one item per row, written with a condition on
 * `version`. Summary deltas go to the item `#SUMMARY` with `ADD` in the same `TransactWriteItems`
 * as the row, so a counter moves if and only if its row does (never counted twice, never lost).
 */
export class DynamoProjectionStore<S> implements ProjectionStore<S> {
  constructor(
    private readonly dynamodb: DynamoDBClient,
    private readonly tableName: string,
    private readonly state?: z.ZodType<S>,
    /** Top-level attributes written with each row (an index's key, a time to live). */
    private readonly attributes?: (state: S) => RowAttributes,
  ) {}

  async load(key: string): Promise<ProjectionRow<S> | undefined> {
    const { Item } = await this.dynamodb.send(new GetItemCommand({ TableName: this.tableName, Key: marshall({ [PROJECTION.partitionKey]: key }), ConsistentRead: true }));
    return Item ? toRow<S>(unmarshall(Item), this.state) : undefined;
  }

  async save(row: ProjectionRow<S>, expectedVersion: number, summary: Readonly<Record<string, number>>): Promise<void> {
    const put: Put = {
      TableName: this.tableName,
      Item: marshall(toItem(row, expectedVersion + 1, this.attributes?.(row.state)), { removeUndefinedValues: true, convertClassInstanceToMap: true }),
      ...(expectedVersion === 0
        ? { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': PROJECTION.partitionKey } }
        : { ConditionExpression: '#version = :expected', ExpressionAttributeNames: { '#version': PROJECTION.version }, ExpressionAttributeValues: marshall({ ':expected': expectedVersion }) }),
    };
    const counters = Object.entries(summary).filter(([, value]) => value !== 0);
    const bad = counters.filter(([name, value]) => name === PROJECTION.partitionKey || !Number.isFinite(value)).map(([name]) => name);
    if (bad.length > 0) throw new ProjectionError(`summary counters must be finite numbers not named "${PROJECTION.partitionKey}": ${bad.join(', ')}`);
    try {
      if (counters.length === 0) {
        await this.dynamodb.send(new PutItemCommand(put));
        return;
      }
      await this.dynamodb.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: put },
            {
              Update: {
                TableName: this.tableName,
                Key: marshall({ [PROJECTION.partitionKey]: SUMMARY_KEY }),
                UpdateExpression: `ADD ${counters.map((_, i) => `#c${i} :c${i}`).join(', ')}`,
                ExpressionAttributeNames: Object.fromEntries(counters.map(([name], i) => [`#c${i}`, name])),
                ExpressionAttributeValues: marshall(Object.fromEntries(counters.map(([, value], i) => [`:c${i}`, value]))),
              },
            },
          ],
        }),
      );
    } catch (error) {
      const lostRace =
        error instanceof ConditionalCheckFailedException ||
        (error instanceof TransactionCanceledException && (error.CancellationReasons ?? []).some((reason) => CONFLICTS.has(reason.Code ?? ''))) ||
        (error instanceof Error && error.name === 'TransactionConflictException');
      if (lostRace) throw new ProjectionConflictError(row.key, expectedVersion, { cause: error });
      throw error;
    }
  }
}
