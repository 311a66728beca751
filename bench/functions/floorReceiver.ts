/**
 * The emulator's floor: an empty DynamoDB stream → Lambda round trip. Records when each item
 * arrived, next to the time the runner wrote it; nothing else.
 */
import { DynamoDBClient, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import * as z from 'zod';
import { parseConfig } from '../../functions/toolkit/config/parseConfig';
import { instrument, withApiCallLog } from '../../functions/toolkit/observability';
import { BENCH_ENV, RecorderConfigSchema } from '../benchNames';
import { recordResult } from './recordResult';

const config = parseConfig(RecorderConfigSchema);
const dynamodb = instrument(new DynamoDBClient({}));
const FloorItemSchema = z.object({ pk: z.string().min(1), phase: z.string().min(1), committedAt: z.number() });

export const handler = withApiCallLog(async (event: DynamoDBStreamEvent): Promise<void> => {
  const receivedAt = Date.now();
  for (const record of event.Records) {
    const image = record.dynamodb?.NewImage;
    if (!image) continue;
    const item = FloorItemSchema.parse(unmarshall(image as Record<string, AttributeValue>));
    await recordResult(dynamodb, config[BENCH_ENV.resultsTable], { path: 'floor', eventId: item.pk, phase: item.phase, committedAt: item.committedAt, appliedAt: receivedAt });
  }
});
