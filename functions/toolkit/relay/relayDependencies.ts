import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { sleep } from '../retry/backoff';
import { DynamoCursorStore } from './DynamoCursorStore';
import { DynamoOutboxLog } from './DynamoOutboxLog';
import { EventBridgeTarget } from './EventBridgeTarget';
import type { EventTarget } from './ports';
import type { RelayDependencies } from './relayBatch';
import { RELAY_ENV, type RelayConfig } from './relayConfig';
import { SqsDeadLetterSink } from './SqsDeadLetterSink';
import { SqsFifoTarget } from './SqsFifoTarget';

export interface RelayClients {
  readonly dynamodb: DynamoDBClient;
  readonly eventBridge: EventBridgeClient;
  readonly sqs: SQSClient;
}

/**
 * The relay's dependencies from its configuration: the bus and every ordered subscriber as targets,
 * the dead-letter queue, the outbox log and the cursors. The relay function builds them once per cold
 * start; `npm run ops -- republish` builds the same from the deployed function's environment, so an
 * operator's republish goes through the same core and the same cursors.
 */
export function relayDependencies(
  config: RelayConfig,
  clients: RelayClients,
  hooks: Pick<RelayDependencies, 'onAttemptFailed' | 'onNotice' | 'alsoPublish'> = {},
): RelayDependencies {
  const busName = config[RELAY_ENV.eventBusName];
  const targets: EventTarget[] = [
    ...(busName ? [new EventBridgeTarget(clients.eventBridge, busName)] : []),
    ...config[RELAY_ENV.orderedQueueUrls].map((url) => new SqsFifoTarget(clients.sqs, url)),
  ];
  return {
    targets,
    deadLetters: new SqsDeadLetterSink(clients.sqs, config[RELAY_ENV.deadLetterQueueUrl]),
    log: new DynamoOutboxLog(clients.dynamodb, config[RELAY_ENV.outboxTableName]),
    cursors: new DynamoCursorStore(clients.dynamodb, config[RELAY_ENV.cursorTableName]),
    clock: () => new Date(),
    policy: {
      maxAttempts: config[RELAY_ENV.maxAttempts],
      baseDelayMs: config[RELAY_ENV.baseDelayMs],
      maxDelayMs: config[RELAY_ENV.maxDelayMs],
    },
    sleep,
    ...hooks,
  };
}
