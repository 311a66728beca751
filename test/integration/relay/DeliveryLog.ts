import { DynamoDBClient, PutItemCommand, QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { EventEnvelope } from '../../../functions/toolkit/envelope';

/** Which way an event arrived: the ordered FIFO subscription, or the bus rule's fan-out queue. */
export type DeliveryPath = 'ordered' | 'fanout';

export interface Delivery {
  readonly path: DeliveryPath;
  readonly partitionkey: string;
  /** 1, 2, 3, … in the order deliveries of this key on this path arrived. */
  readonly arrival: number;
  readonly id: string;
  readonly type: string;
  readonly subject: string;
  readonly sequence: number;
  readonly receivedAt: string;
  /** The SQS message that carried it: a redelivery of one message (SQS is at-least-once) has the same id, a second publish another. */
  readonly messageId?: string;
  /** Whether the order named a customer, and whether their personal data could still be opened. */
  readonly customer?: 'known' | 'erased' | 'none';
}

const ARRIVAL_DIGITS = 10;
const partition = (path: DeliveryPath, partitionkey: string) => `${path}#${partitionkey}`;

/**
 * Records every delivery (duplicates included, on purpose: it observes the pipeline) with its arrival
 * number per key and path, so that order and duplicates can be checked. Ids and types only.
 */
export class DeliveryLog {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly retentionSeconds = 24 * 3600,
  ) {}

  async record(path: DeliveryPath, event: EventEnvelope, now: Date, customer?: Delivery['customer'], messageId?: string): Promise<Delivery> {
    const pk = partition(path, event.partitionkey);
    const counter = await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: marshall({ pk, sk: '#arrivals' }),
        UpdateExpression: 'ADD arrivals :one',
        ExpressionAttributeValues: marshall({ ':one': 1 }),
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    const arrival = Number(counter.Attributes?.arrivals?.N);
    const delivery: Delivery = {
      path,
      partitionkey: event.partitionkey,
      arrival,
      id: event.id,
      type: event.type,
      subject: event.subject,
      sequence: Number(event.sequence),
      receivedAt: now.toISOString(),
      ...(customer === undefined ? {} : { customer }),
      ...(messageId === undefined ? {} : { messageId }),
    };
    await this.client.send(
      new PutItemCommand({
        TableName: this.tableName,
        Item: marshall({ pk, sk: String(arrival).padStart(ARRIVAL_DIGITS, '0'), ...delivery, expiresAt: Math.floor(now.getTime() / 1000) + this.retentionSeconds }),
      }),
    );
    return delivery;
  }

  /**
   * The messages of one key on one path, in the order they first arrived. A redelivery of one SQS
   * message (at-least-once: its visibility timeout ran out on a busy machine) is the queue's, not the
   * publisher's, and is listed once; a second message with the same event (a second publish) is not.
   */
  async list(path: DeliveryPath, partitionkey: string): Promise<Delivery[]> {
    const seen = new Set<string>();
    return (await this.arrivals(path, partitionkey)).filter((d) => d.messageId === undefined || (!seen.has(d.messageId) && seen.add(d.messageId)));
  }

  /** Every delivery of one key on one path, redeliveries included, in arrival order. */
  async arrivals(path: DeliveryPath, partitionkey: string): Promise<Delivery[]> {
    const items: Delivery[] = [];
    let start: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :last',
          ExpressionAttributeValues: marshall({ ':pk': partition(path, partitionkey), ':first': '0', ':last': '9' }),
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) items.push(unmarshall(item) as Delivery);
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }
}
