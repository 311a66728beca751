import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DELIVERY_ENV } from '../../functions/coffee/deliveries/deliveryConfig';
import { ORDER_PLACED } from '../../functions/coffee/orders/placeOrder';
import { ToolkitFunction } from '../constructs/ToolkitFunction';
import { TransactionalOutbox } from '../constructs/TransactionalOutbox';

export interface CoffeeOrdersStackProps extends StackProps {
  /** Visibility timeout of the demo's subscriber queues (short in test deployments). @default 30 s */
  readonly subscriberVisibilityTimeout?: Duration;
}

/**
 * The coffee shop's orders service: `PlaceOrder` commits an order and `coffee.order.placed` through
 * the transactional outbox; the relay delivers it to an ordered FIFO subscriber and, through the bus,
 * to a rule's queue. A deliveries recorder listens on both paths so a person (or a test) can watch.
 */
export class CoffeeOrdersStack extends Stack {
  constructor(scope: Construct, id: string, props: CoffeeOrdersStackProps = {}) {
    super(scope, id, props);
    const visibilityTimeout = props.subscriberVisibilityTimeout ?? Duration.seconds(30);

    const outbox = new TransactionalOutbox(this, 'Orders', {
      source: 'coffee.orders',
      eventBusName: 'coffee',
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const placeOrder = new ToolkitFunction(this, 'PlaceOrder', {
      entry: 'functions/coffee/orders/placeOrderHandler.ts',
      description: 'PlaceOrder command: commits the order and coffee.order.placed',
      environment: { POWERTOOLS_SERVICE_NAME: 'coffee-orders' },
    });
    outbox.grantCommit(placeOrder);

    // The demo's observer: records every delivery on both paths.
    const deliveries = new dynamodb.Table(this, 'Deliveries', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: outbox.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: 'expiresAt',
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const recorder = new ToolkitFunction(this, 'RecordDelivery', {
      entry: 'functions/coffee/deliveries/recordDeliveryHandler.ts',
      description: 'Records what the ordered subscription and the bus fan-out deliver',
      timeout: Duration.seconds(Math.max(3, Math.floor(visibilityTimeout.toSeconds() / 6))),
      environment: { POWERTOOLS_SERVICE_NAME: 'coffee-deliveries', [DELIVERY_ENV.tableName]: deliveries.tableName },
    });
    iam.Grant.addToPrincipal({ grantee: recorder, actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem'], resourceArns: [deliveries.tableArn] });
    outbox.key.grant(recorder, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey');

    // Ordered path: a FIFO queue registered with the relay (group = partition key, dedup = event id).
    const queueDefaults = { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: outbox.key, enforceSSL: true };
    const orderedDlq = new sqs.Queue(this, 'OrderedRecorderDlq', { ...queueDefaults, queueName: 'coffee-orders-recorder-dlq.fifo', fifo: true, retentionPeriod: Duration.days(14) });
    const orderedQueue = new sqs.Queue(this, 'OrderedRecorderQueue', {
      ...queueDefaults,
      queueName: 'coffee-orders-recorder.fifo',
      fifo: true,
      visibilityTimeout,
      deadLetterQueue: { queue: orderedDlq, maxReceiveCount: 5 },
    });
    outbox.addOrderedSubscriber(orderedQueue);
    recorder.addEventSource(new sources.SqsEventSource(orderedQueue, { batchSize: 10, reportBatchItemFailures: true }));

    // Fan-out path: a bus rule → a queue of its own → the recorder.
    const fanoutDlq = new sqs.Queue(this, 'FanoutRecorderDlq', { ...queueDefaults, retentionPeriod: Duration.days(14) });
    const fanoutQueue = new sqs.Queue(this, 'FanoutRecorderQueue', {
      ...queueDefaults,
      visibilityTimeout,
      deadLetterQueue: { queue: fanoutDlq, maxReceiveCount: 5 },
    });
    // The SqsQueue target lets EventBridge use the queue's key; with the cdk.json flag
    // eventsTargetQueueSameAccount, only rules of this account (aws:SourceAccount).
    new events.Rule(this, 'OrderEventsRule', {
      eventBus: outbox.bus,
      description: 'Every order event, to the fan-out recorder',
      eventPattern: { source: [outbox.source], detailType: [ORDER_PLACED] },
      targets: [new targets.SqsQueue(fanoutQueue, { deadLetterQueue: fanoutDlq, retryAttempts: 8, maxEventAge: Duration.hours(24) })],
    });
    recorder.addEventSource(new sources.SqsEventSource(fanoutQueue, { batchSize: 10, reportBatchItemFailures: true, maxConcurrency: 2 }));

    for (const [name, dlq] of [['OrderedRecorderDlq', orderedDlq], ['FanoutRecorderDlq', fanoutDlq]] as const) {
      new cloudwatch.Alarm(this, `${name}Alarm`, {
        alarmDescription: `Messages in ${name}`,
        metric: dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }

    const outputs = {
      TableName: outbox.table.tableName,
      BusName: outbox.bus.eventBusName,
      RelayFunctionName: outbox.relayFunction.functionName,
      RelayDeadLetterQueueUrl: outbox.deadLetterQueue.queueUrl,
      PlaceOrderFunctionName: placeOrder.functionName,
      DeliveriesTableName: deliveries.tableName,
      OrderedQueueUrl: orderedQueue.queueUrl,
      FanoutQueueUrl: fanoutQueue.queueUrl,
    };
    for (const [name, value] of Object.entries(outputs)) new CfnOutput(this, name, { value });
  }
}
