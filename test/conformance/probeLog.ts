import { DynamoDBClient, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { stackOutputs } from '../support/outputs';

export interface ProbeArrival {
  item: string;
  attempt: number;
  ok: boolean;
  eventName?: string;
  hasNewImage?: boolean;
  hasOldImage?: boolean;
  /** SQS: the message's ApproximateReceiveCount on this delivery. */
  receiveCount?: number;
}

const ddb = () => new DynamoDBClient({});
export const probe = () => stackOutputs('ConformanceProbe');

/** What the probe received on a channel (`stream#<pk>`, `fifo#<group>` or `sqs#standard`), in arrival order. */
export async function arrivals(channel: string): Promise<ProbeArrival[]> {
  const result = await ddb().send(
    new QueryCommand({
      TableName: probe().LogTableName,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :a AND :b',
      ExpressionAttributeValues: marshall({ ':pk': channel, ':a': '0', ':b': '9' }),
      ConsistentRead: true,
    }),
  );
  return (result.Items ?? []).map((item) => unmarshall(item) as ProbeArrival);
}

/** Writes an item into the probe's streamed table (a `kind: probe` item is what its filter lets through). */
export async function putStreamed(item: Record<string, unknown>): Promise<void> {
  await ddb().send(new PutItemCommand({ TableName: probe().StreamedTableName, Item: marshall(item) }));
}

export async function sendFifo(group: string, item: string, failTimes = 0): Promise<void> {
  await new SQSClient({}).send(
    new SendMessageCommand({ QueueUrl: probe().FifoQueueUrl, MessageGroupId: group, MessageDeduplicationId: `${group}-${item}`, MessageBody: JSON.stringify({ item, failTimes }) }),
  );
}
