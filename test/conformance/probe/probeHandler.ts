/**
 * The conformance probe: a Lambda that records every record it receives (stream or SQS), in arrival
 * order, and fails records on request, so tests can see what the emulator's event-source mappings do.
 * A record asks to fail with `failTimes` (stream: a number attribute; SQS: a body field): it is
 * reported as a batch item failure that many times, then succeeds.
 */
import { DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord, SQSRecord } from 'aws-lambda';
import * as z from 'zod';
import { parseConfig } from '../../../functions/toolkit/config/parseConfig';

const config = parseConfig(z.object({ PROBE_LOG_TABLE: z.string().min(1) }));
const ddb = new DynamoDBClient({});

interface Observation {
  /** Where and which key: `stream#<pk>`, `fifo#<group>` or `sqs#standard`. */
  readonly channel: string;
  readonly item: string;
  readonly failTimes: number;
  readonly detail: Record<string, unknown>;
}

async function next(pk: string, sk: string): Promise<number> {
  const result = await ddb.send(
    new UpdateItemCommand({
      TableName: config.PROBE_LOG_TABLE,
      Key: marshall({ pk, sk }),
      UpdateExpression: 'ADD n :one',
      ExpressionAttributeValues: marshall({ ':one': 1 }),
      ReturnValues: 'UPDATED_NEW',
    }),
  );
  return Number(result.Attributes?.n?.N);
}

/** Records the arrival; returns false when the record must be reported as failed this time. */
async function observe(o: Observation): Promise<boolean> {
  const attempt = await next(`attempts#${o.channel}`, o.item);
  const ok = attempt > o.failTimes;
  const arrival = await next(`arrivals#${o.channel}`, '#');
  await ddb.send(
    new PutItemCommand({
      TableName: config.PROBE_LOG_TABLE,
      Item: marshall({ pk: o.channel, sk: String(arrival).padStart(8, '0'), item: o.item, attempt, ok, ...o.detail }, { removeUndefinedValues: true }),
    }),
  );
  return ok;
}

function fromStream(record: DynamoDBRecord): Observation {
  const image = record.dynamodb?.NewImage ?? {};
  return {
    channel: `stream#${image.pk?.S}`,
    item: image.sk?.S ?? '?',
    failTimes: Number(image.failTimes?.N ?? 0),
    detail: { eventName: record.eventName, hasNewImage: record.dynamodb?.NewImage !== undefined, hasOldImage: record.dynamodb?.OldImage !== undefined, sequenceNumber: record.dynamodb?.SequenceNumber },
  };
}

function fromSqs(record: SQSRecord): Observation {
  const body = JSON.parse(record.body) as { item: string; failTimes?: number };
  const group = record.attributes.MessageGroupId;
  return { channel: group === undefined ? 'sqs#standard' : `fifo#${group}`, item: body.item, failTimes: body.failTimes ?? 0, detail: { receiveCount: Number(record.attributes.ApproximateReceiveCount) } };
}

export const handler = async (event: { Records: Array<DynamoDBRecord | SQSRecord> }) => {
  const failures: string[] = [];
  const failedGroups = new Set<string>();
  for (const record of event.Records) {
    if ('dynamodb' in record) {
      // Stream semantics: report the first failure; the mapping retries it and everything after.
      if (!(await observe(fromStream(record)))) return { batchItemFailures: [{ itemIdentifier: record.dynamodb?.SequenceNumber }] };
    } else {
      const sqsRecord = record as SQSRecord;
      const group = sqsRecord.attributes.MessageGroupId ?? '';
      // FIFO semantics: once a group failed, its later messages are failed too (not processed).
      if (failedGroups.has(group) || !(await observe(fromSqs(sqsRecord)))) {
        failedGroups.add(group);
        failures.push(sqsRecord.messageId);
      }
    }
  }
  return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
};
