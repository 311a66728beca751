import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { EventConsumer } from '../../../lib/constructs/EventConsumer';
import { TransactionalOutbox } from '../../../lib/constructs/TransactionalOutbox';
import { CIRCUIT_TEST_SOURCE } from './circuitEvents';

export const TEST_SOURCE = 'test.consumers';
/** The legacy consumer's subscription: none of the outbox's events, only what the tests send it. */
export const LEGACY_TEST_SOURCE = `${TEST_SOURCE}.legacy`;

/** Test-only: an outbox with one ordered and one fan-out consumer running the effect handler, and a fan-out one with a circuit breaker. */
export class ConsumerTestStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const outbox = new TransactionalOutbox(this, 'Outbox', { source: TEST_SOURCE, removalPolicy: RemovalPolicy.DESTROY });
    const effects = new dynamodb.Table(this, 'Effects', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Short timeouts and backoff keep the retry tests quick (visibility timeout = 6 × 3 s).
    const common = {
      entry: 'test/integration/consumer/effectHandler.ts',
      maxAttempts: 3,
      timeout: Duration.seconds(3),
      backoffBase: Duration.seconds(1),
      backoffMax: Duration.seconds(2),
      environment: { EFFECTS_TABLE_NAME: effects.tableName },
      removalPolicy: RemovalPolicy.DESTROY,
    };
    const ordered = new EventConsumer(this, 'Ordered', { ...common, source: { kind: 'ordered', outbox } });
    const fanout = new EventConsumer(this, 'Fanout', { ...common, source: { kind: 'fanout', bus: outbox.bus, pattern: { source: [TEST_SOURCE] } } });
    // The same handler on Powertools records instead of the inbox (tests send to its queue directly):
    // it shows the crash window the inbox closes.
    const legacy = new EventConsumer(this, 'Legacy', {
      ...common,
      environment: { ...common.environment, EFFECT_MODE: 'powertools' },
      source: { kind: 'fanout', bus: outbox.bus, pattern: { source: [LEGACY_TEST_SOURCE] } },
    });
    // A third one calls a fake downstream through a circuit breaker (circuitHandler.ts). The short
    // cool-down keeps the test quick: it invokes the closer directly instead of awaiting its schedule.
    const guarded = new EventConsumer(this, 'Guarded', {
      ...common,
      entry: 'test/integration/consumer/circuitHandler.ts',
      maxAttempts: 5,
      source: { kind: 'fanout', bus: outbox.bus, pattern: { source: [CIRCUIT_TEST_SOURCE] } },
      circuitBreaker: { failureThreshold: 3, window: Duration.seconds(60), coolDown: Duration.seconds(10) },
    });
    for (const consumer of [ordered, fanout, legacy, guarded]) {
      iam.Grant.addToPrincipal({ grantee: consumer.function, actions: ['dynamodb:UpdateItem', 'dynamodb:GetItem'], resourceArns: [effects.tableArn] });
    }
    const outputs = {
      TableName: outbox.table.tableName,
      EffectsTableName: effects.tableName,
      OrderedQueueUrl: ordered.queue.queueUrl,
      OrderedDeadLetterQueueUrl: ordered.deadLetterQueue.queueUrl,
      OrderedFunctionName: ordered.function.functionName,
      FanoutQueueUrl: fanout.queue.queueUrl,
      FanoutDeadLetterQueueUrl: fanout.deadLetterQueue.queueUrl,
      OrderedStateTableName: ordered.idempotencyTable.tableName,
      FanoutStateTableName: fanout.idempotencyTable.tableName,
      LegacyQueueUrl: legacy.queue.queueUrl,
      GuardedQueueUrl: guarded.queue.queueUrl,
      GuardedQueueArn: guarded.queue.queueArn,
      GuardedFunctionName: guarded.function.functionName,
      GuardedMappingId: guarded.eventSourceMapping.eventSourceMappingId,
      GuardedStateTableName: guarded.idempotencyTable.tableName,
      GuardedCloserFunctionName: guarded.circuitBreaker!.closerFunction.functionName,
    };
    for (const [name, value] of Object.entries(outputs)) new CfnOutput(this, name, { value });
  }
}
