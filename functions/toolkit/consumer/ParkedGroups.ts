import { ConditionalCheckFailedException, DeleteItemCommand, DynamoDBClient, GetItemCommand, ScanCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';

/** A FIFO group held back because one of its messages was dead-lettered. */
export interface ParkedGroup {
  readonly group: string;
  readonly parkedAt: string;
  readonly reason: string;
  /** How many later messages were diverted to the DLQ behind the dead-lettered one. */
  readonly diverted: number;
  /** Diversions under way (message id → since when); the park cannot be lifted while any is. */
  readonly pending: Readonly<Record<string, string>>;
}

/** Message attribute with which the redrive tool marks the messages it sends back. */
export const REDRIVE_ATTRIBUTE = 'redriveRun';

/**
 * Parked FIFO groups of one consumer, kept in its idempotency table (id `parked#<group>`; Powertools'
 * records use other ids). The order-preserving dead-letter protocol:
 * - a dead-lettered message parks its group;
 * - while parked, the group's later live messages are diverted to the DLQ behind it, in order;
 *   a diversion is registered (`pending`) before the send and counted after it;
 * - the redrive tool sends the DLQ's messages back marked (processed even while parked), and lifts
 *   the park only if no diversion is pending and none happened since it last found the DLQ empty —
 *   so a live message can never slip into the DLQ after the park is gone, and none overtakes.
 */
export class ParkedGroups {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  private key(group: string) {
    return marshall({ id: `parked#${group}` });
  }

  async park(group: string, reason: string): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: this.key(group),
        UpdateExpression:
          'SET #group = :group, parkedAt = if_not_exists(parkedAt, :now), reason = if_not_exists(reason, :reason), lastFailureAt = :now, lastReason = :reason, pending = if_not_exists(pending, :empty) ADD diverted :zero',
        ExpressionAttributeNames: { '#group': 'group' },
        ExpressionAttributeValues: marshall({ ':group': group, ':now': this.clock().toISOString(), ':reason': reason.slice(0, 500), ':zero': 0, ':empty': {} }),
      }),
    );
  }

  /** Registers a diversion if the group is parked; false when it is not (then process normally). */
  async beginDiversion(group: string, messageId: string): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(group),
          UpdateExpression: 'SET pending.#mid = :now',
          ConditionExpression: 'attribute_exists(id)',
          ExpressionAttributeNames: { '#mid': messageId },
          ExpressionAttributeValues: marshall({ ':now': this.clock().toISOString() }),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async endDiversion(group: string, messageId: string): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: this.key(group),
        UpdateExpression: 'REMOVE pending.#mid ADD diverted :one',
        ConditionExpression: 'attribute_exists(id)',
        ExpressionAttributeNames: { '#mid': messageId },
        ExpressionAttributeValues: marshall({ ':one': 1 }),
      }),
    );
  }

  async get(group: string): Promise<ParkedGroup | undefined> {
    const got = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: this.key(group), ConsistentRead: true }));
    if (!got.Item) return undefined;
    const item = unmarshall(got.Item);
    return { group, parkedAt: item.parkedAt, reason: item.reason, diverted: Number(item.diverted ?? 0), pending: item.pending ?? {} };
  }

  /** Every parked group (a Scan: for operators, never on the hot path). */
  async list(): Promise<ParkedGroup[]> {
    const groups: ParkedGroup[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({ TableName: this.tableName, FilterExpression: 'begins_with(id, :prefix)', ExpressionAttributeValues: marshall({ ':prefix': 'parked#' }), ExclusiveStartKey: start, ConsistentRead: true }),
      );
      for (const raw of page.Items ?? []) {
        const item = unmarshall(raw);
        groups.push({ group: item.group, parkedAt: item.parkedAt, reason: item.reason, diverted: Number(item.diverted ?? 0), pending: item.pending ?? {} });
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return groups;
  }

  /**
   * Lifts the park if nothing was diverted since `seen` was read and no diversion is under way.
   * Returns false when a diversion raced in: drain the DLQ again, then retry.
   */
  async release(group: string, seen: ParkedGroup): Promise<boolean> {
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: this.key(group),
          ConditionExpression: 'diverted = :diverted AND (attribute_not_exists(pending) OR size(pending) = :zero)',
          ExpressionAttributeValues: marshall({ ':diverted': seen.diverted, ':zero': 0 }),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
