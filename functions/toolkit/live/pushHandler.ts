import { Logger } from '@aws-lambda-powertools/logger';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { parseConfig } from '../config/parseConfig';
import { SqsDeadLetterSink } from '../relay/SqsDeadLetterSink';
import { ApiGatewayConnectionPusher } from './ApiGatewayConnectionPusher';
import { DynamoConnectionStore } from './DynamoConnectionStore';
import { fanOut } from './fanOut';
import { LIVE_ENV, PushConfigSchema } from './liveConfig';
import { readStreamRecords } from './readStreamRecords';
import { instrument, withApiCallLog } from '../observability';

const config = parseConfig(PushConfigSchema);
const logger = new Logger({ serviceName: 'live-updates' });
const store = new DynamoConnectionStore(instrument(new DynamoDBClient({})), config[LIVE_ENV.connectionsTable]);
const pusher = new ApiGatewayConnectionPusher(instrument(new ApiGatewayManagementApiClient({ endpoint: config[LIVE_ENV.callbackUrl] })));
const deadLetters = new SqsDeadLetterSink(instrument(new SQSClient({})), config[LIVE_ENV.deadLetterQueueUrl]);
const kind = config[LIVE_ENV.messageKind];

/**
 * Read-model stream (NEW_IMAGE, INSERT/MODIFY) → every open WebSocket connection, in order. Gone
 * clients are removed, never a failure; a connection that fails while others take the messages is
 * closed and removed (its client reconnects and reloads). Only when every connection fails is the
 * batch retried, from the first record not delivered. Logs counts, never payloads.
 */
export const handler = withApiCallLog(async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  const { messages, skipped, poison } = readStreamRecords(event.Records, kind);
  if (poison.length > 0) {
    await deadLetters.send(poison);
    logger.error('stream records that are not valid rows were dead-lettered', { count: poison.length, sequenceNumbers: poison.map((p) => p.sequenceNumber) });
  }
  const result = await fanOut(messages, { store, pusher, maxConcurrency: config[LIVE_ENV.maxConcurrency] });
  const counts = { records: event.Records.length, messages: messages.length, skipped, poison: poison.length, ...result };
  if (result.firstFailedIndex === undefined) {
    if (result.dropped > 0) logger.warn('pushed; connections that failed were closed (their clients reconnect and reload)', counts);
    else logger.info('pushed', counts);
    return { batchItemFailures: [] };
  }
  const failedRecord = messages[result.firstFailedIndex]!;
  logger.error('push failed on every connection; the batch is retried from the first record not delivered', { ...counts, firstFailedSequenceNumber: failedRecord.id });
  return { batchItemFailures: [{ itemIdentifier: failedRecord.id }] };
});
