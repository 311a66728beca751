/**
 * For comparison only, never for use: the naive outbox relay — one PutEvents and one SendMessage per
 * record, no batching — reading the same stream as the toolkit's relay (a second mapping), so both
 * are measured on the same commits. Same environment contract as the toolkit's relay.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { parseConfig } from '../../functions/toolkit/config/parseConfig';
import { instrument, withApiCallLog } from '../../functions/toolkit/observability';
import { RELAY_ENV, RelayConfigSchema } from '../../functions/toolkit/relay/relayConfig';
import { toRelayRecord } from '../../functions/toolkit/relay/toRelayRecord';

const config = parseConfig(RelayConfigSchema);
const logger = new Logger({ serviceName: 'naive-relay' });
const eventBridge = instrument(new EventBridgeClient({}));
const sqs = instrument(new SQSClient({}));
const busName = config[RELAY_ENV.eventBusName];

export const handler = withApiCallLog(async (event: DynamoDBStreamEvent): Promise<void> => {
  for (const record of event.Records.map(toRelayRecord)) {
    if ('poison' in record) {
      logger.error('poison outbox record skipped', { sequenceNumber: record.sequenceNumber });
      continue;
    }
    const envelope = record.event;
    if (busName) {
      const response = await eventBridge.send(
        new PutEventsCommand({ Entries: [{ EventBusName: busName, Source: envelope.source, DetailType: envelope.type, Detail: JSON.stringify(envelope), Time: new Date(envelope.time) }] }),
      );
      // A failed entry fails the whole batch: the mapping retries it in order (duplicates are absorbed downstream).
      if (response.FailedEntryCount) throw new Error(`PutEvents failed for ${envelope.id}: ${response.Entries?.[0]?.ErrorCode ?? 'unknown'}`);
    }
    for (const queueUrl of config[RELAY_ENV.orderedQueueUrls]) {
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(envelope), MessageGroupId: envelope.partitionkey, MessageDeduplicationId: envelope.id }));
    }
  }
});
