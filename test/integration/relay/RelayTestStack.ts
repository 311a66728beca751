import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DELIVERY_ENV } from './deliveryConfig';
import { OUTBOX } from '../../../functions/toolkit/outbox/outboxItem';
import { CURSOR } from '../../../functions/toolkit/relay/cursorItem';
import { RELAY_ENV } from '../../../functions/toolkit/relay/relayConfig';
import { ToolkitFunction } from '../../../lib/constructs/ToolkitFunction';
import { DEFAULT_RELAY_ENTRY, TransactionalOutbox } from '../../../lib/constructs/TransactionalOutbox';

export const RELAY_TEST_SOURCE = 'test.relay';

/**
 * Test-only: an outbox whose relay delivers to a raw observer on both paths (an ordered FIFO
 * subscriber, and a bus rule's queue). The observer records every delivery, duplicates included,
 * so the relay's own guarantees can be checked without a consumer's idempotency hiding anything.
 */
export class RelayTestStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const outbox = new TransactionalOutbox(this, 'Outbox', { source: RELAY_TEST_SOURCE, removalPolicy: RemovalPolicy.DESTROY });
    const deliveries = new dynamodb.Table(this, 'Deliveries', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const observer = new ToolkitFunction(this, 'Observer', {
      entry: 'test/integration/relay/rawDeliveryHandler.ts',
      timeout: Duration.seconds(5),
      environment: { [DELIVERY_ENV.tableName]: deliveries.tableName },
    });
    iam.Grant.addToPrincipal({ grantee: observer, actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem'], resourceArns: [deliveries.tableArn] });
    outbox.key.grant(observer, 'kms:Decrypt');

    const ordered = new sqs.Queue(this, 'Ordered', { queueName: `${this.stackName}-observer.fifo`, fifo: true, visibilityTimeout: Duration.seconds(30), encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: outbox.key });
    outbox.addOrderedSubscriber(ordered);
    const fanout = new sqs.Queue(this, 'Fanout', { visibilityTimeout: Duration.seconds(30) });
    new events.Rule(this, 'All', { eventBus: outbox.bus, eventPattern: { source: [RELAY_TEST_SOURCE] }, targets: [new targets.SqsQueue(fanout)] });
    for (const queue of [ordered, fanout]) observer.addEventSource(new sources.SqsEventSource(queue, { batchSize: 10, reportBatchItemFailures: true }));

    const input = this.relayInput(observer);

    const outputs = {
      TableName: outbox.table.tableName,
      RelayFunctionName: outbox.relayFunction.functionName,
      RelayDeadLetterQueueUrl: outbox.deadLetterQueue.queueUrl,
      DeliveriesTableName: deliveries.tableName,
      ...input,
    };
    for (const [name, value] of Object.entries(outputs)) new CfnOutput(this, name, { value });
  }

  /**
   * The test relay input: the generic relay function WITHOUT a stream mapping, on an outbox table of
   * its own (with a stream nobody reads, so `ops republish` can read records back), delivering to a
   * FIFO queue the observer records. A test invokes it with crafted stream events whose records are
   * real committed outbox items in any order: the stream order the emulator never produces.
   */
  private relayInput(observer: ToolkitFunction): Record<string, string> {
    const table = new dynamodb.Table(this, 'InputTable', {
      partitionKey: { name: OUTBOX.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: OUTBOX.sortKey, type: dynamodb.AttributeType.STRING },
      stream: dynamodb.StreamViewType.NEW_IMAGE,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const cursors = new dynamodb.Table(this, 'InputCursors', {
      partitionKey: { name: CURSOR.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: CURSOR.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const deadLetters = new sqs.Queue(this, 'InputDeadLetters', { queueName: `${this.stackName}-input-dlq`, visibilityTimeout: Duration.seconds(30) });
    const ordered = new sqs.Queue(this, 'InputOrdered', { queueName: `${this.stackName}-input.fifo`, fifo: true, visibilityTimeout: Duration.seconds(30) });
    observer.addEventSource(new sources.SqsEventSource(ordered, { batchSize: 10, reportBatchItemFailures: true }));
    const relay = new ToolkitFunction(this, 'InputRelay', {
      entry: DEFAULT_RELAY_ENTRY,
      description: 'Test relay input: the generic relay, invoked directly with crafted stream events',
      timeout: Duration.seconds(30),
      environment: {
        POWERTOOLS_SERVICE_NAME: 'outbox-relay',
        [RELAY_ENV.orderedQueueUrls]: Stack.of(this).toJsonString([ordered.queueUrl]),
        [RELAY_ENV.deadLetterQueueUrl]: deadLetters.queueUrl,
        [RELAY_ENV.outboxTableName]: table.tableName,
        [RELAY_ENV.cursorTableName]: cursors.tableName,
        [RELAY_ENV.maxAttempts]: '3',
      },
    });
    iam.Grant.addToPrincipal({ grantee: relay, actions: ['dynamodb:Query'], resourceArns: [table.tableArn] });
    iam.Grant.addToPrincipal({ grantee: relay, actions: ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'], resourceArns: [cursors.tableArn] });
    ordered.grantSendMessages(relay);
    deadLetters.grantSendMessages(relay);
    return {
      InputTableName: table.tableName,
      InputStreamArn: table.tableStreamArn!,
      InputCursorTableName: cursors.tableName,
      InputRelayFunctionName: relay.functionName,
      InputDeadLetterQueueUrl: deadLetters.queueUrl,
      InputDeadLetterQueueName: deadLetters.queueName,
    };
  }
}
