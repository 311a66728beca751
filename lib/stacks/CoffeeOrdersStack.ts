import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { DELIVERY_ENV } from '../../functions/coffee/deliveries/deliveryConfig';
import { ORDER_PLACED } from '../../functions/coffee/orders/placeOrder';
import { EventConsumer, type EventConsumerSource } from '../constructs/EventConsumer';
import { PersonalDataVault } from '../constructs/PersonalDataVault';
import { ToolkitFunction } from '../constructs/ToolkitFunction';
import { TransactionalOutbox } from '../constructs/TransactionalOutbox';

/**
 * The coffee shop's orders service: `PlaceOrder` commits an order and `coffee.order.placed` through
 * the transactional outbox; the relay delivers it to an ordered consumer (FIFO, per order) and,
 * through the bus, to a fan-out consumer. Both record what they receive, so `npm start` can show it.
 */
export class CoffeeOrdersStack extends Stack {
  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, props);

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

    // Customers' names and emails are sealed per customer; erasing a customer destroys their key.
    const customers = new PersonalDataVault(this, 'Customers', { removalPolicy: RemovalPolicy.DESTROY });
    customers.grantSeal(placeOrder);
    const eraseCustomer = customers.addEraseFunction(outbox, 'EraseCustomer');

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
    const consumer = (consumerId: string, path: 'ordered' | 'fanout', source: EventConsumerSource) => {
      const created = new EventConsumer(this, consumerId, {
        entry: 'functions/coffee/deliveries/recordDeliveryHandler.ts',
        source,
        environment: { [DELIVERY_ENV.tableName]: deliveries.tableName, [DELIVERY_ENV.path]: path },
        removalPolicy: RemovalPolicy.DESTROY,
      });
      iam.Grant.addToPrincipal({ grantee: created.function, actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem'], resourceArns: [deliveries.tableArn] });
      customers.grantOpen(created.function);
      return created;
    };
    const ordered = consumer('OrderedDeliveries', 'ordered', { kind: 'ordered', outbox });
    const fanout = consumer('FanoutDeliveries', 'fanout', { kind: 'fanout', bus: outbox.bus, pattern: { source: [outbox.source], detailType: [ORDER_PLACED] } });

    const outputs = {
      TableName: outbox.table.tableName,
      BusName: outbox.bus.eventBusName,
      RelayFunctionName: outbox.relayFunction.functionName,
      RelayDeadLetterQueueUrl: outbox.deadLetterQueue.queueUrl,
      PlaceOrderFunctionName: placeOrder.functionName,
      EraseCustomerFunctionName: eraseCustomer.functionName,
      DeliveriesTableName: deliveries.tableName,
      OrderedQueueUrl: ordered.queue.queueUrl,
      FanoutQueueUrl: fanout.queue.queueUrl,
      FanoutConsumerFunctionName: fanout.function.functionName,
    };
    for (const [name, value] of Object.entries(outputs)) new CfnOutput(this, name, { value });
  }
}
