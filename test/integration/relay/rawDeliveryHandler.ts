import { BatchProcessor, EventType, processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { parseConfig } from '../../../functions/toolkit/config/parseConfig';
import { parseEvent } from '../../../functions/toolkit/envelope';
import { DeliveryLog } from './DeliveryLog';
import { DELIVERY_ENV, DeliveryConfigSchema } from './deliveryConfig';

const config = parseConfig(DeliveryConfigSchema);
const logger = new Logger({ serviceName: 'coffee-deliveries' });
const log = new DeliveryLog(new DynamoDBClient({}), config[DELIVERY_ENV.tableName]);
const fifo = new SqsFifoPartialProcessorAsync();
const standard = new BatchProcessor(EventType.SQS);

/** The FIFO body is the envelope; a bus rule's SQS target receives the EventBridge event around it. */
const recordOne = async (record: SQSRecord): Promise<void> => {
  const ordered = record.attributes.MessageGroupId !== undefined;
  const body: unknown = JSON.parse(record.body);
  const envelope = parseEvent(ordered ? body : (body as { detail?: unknown }).detail);
  const delivery = await log.record(ordered ? 'ordered' : 'fanout', envelope, new Date(), undefined, record.messageId);
  logger.info('event delivered', { path: delivery.path, id: delivery.id, type: delivery.type, sequence: delivery.sequence, arrival: delivery.arrival });
};

/**
 * Test-only observer of the relay: records every raw delivery of the ordered subscription and the
 * bus fan-out — duplicates included, deliberately not idempotent — so tests can prove the relay's
 * order, completeness and FIFO deduplication. (Real consumers use defineConsumer.)
 */
export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  if (event.Records[0]?.attributes.MessageGroupId !== undefined) {
    // A failed message stops its own group only; other groups go on.
    return processPartialResponse(event, recordOne, fifo, { context, skipGroupOnError: true });
  }
  return processPartialResponse(event, recordOne, standard, { context });
};
