import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DELIVERY_ENV } from './deliveryConfig';
import { ToolkitFunction } from '../../../lib/constructs/ToolkitFunction';
import { TransactionalOutbox } from '../../../lib/constructs/TransactionalOutbox';

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

    const outputs = {
      TableName: outbox.table.tableName,
      RelayFunctionName: outbox.relayFunction.functionName,
      RelayDeadLetterQueueUrl: outbox.deadLetterQueue.queueUrl,
      DeliveriesTableName: deliveries.tableName,
    };
    for (const [name, value] of Object.entries(outputs)) new CfnOutput(this, name, { value });
  }
}
