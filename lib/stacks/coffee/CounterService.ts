import { RemovalPolicy } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { BREW_FINISHED } from '../../../functions/coffee/barista/ticket';
import { ORDER_CANCELLED } from '../../../functions/coffee/orders/cancelOrder';
import { EventConsumer } from '../../constructs/EventConsumer';
import { ToolkitFunction } from '../../constructs/ToolkitFunction';
import { TransactionalOutbox } from '../../constructs/TransactionalOutbox';
import { grantService } from './grantService';
import type { ServiceProps } from './OrdersService';

/**
 * The counter: learns from the bus which drinks are ready and which orders were cancelled, and hands
 * drinks over through an HTTP route (`coffee.order.served`).
 */
export class CounterService extends Construct {
  public readonly outbox: TransactionalOutbox;
  public readonly api: ToolkitFunction;
  public readonly pickups: EventConsumer;

  constructor(scope: Construct, id: string, props: ServiceProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.outbox = new TransactionalOutbox(this, 'Outbox', { source: 'coffee.counter', eventBus: props.bus, removalPolicy });

    this.api = new ToolkitFunction(this, 'Api', {
      entry: 'functions/coffee/counter/counterApiHandler.ts',
      description: 'Counter HTTP API: ServeOrder',
      environment: { POWERTOOLS_SERVICE_NAME: 'coffee-counter' },
    });
    grantService(this.outbox, this.api, 'dynamodb:GetItem', 'dynamodb:ConditionCheckItem');

    this.pickups = new EventConsumer(this, 'Pickups', {
      entry: 'functions/coffee/counter/pickupHandler.ts',
      source: { kind: 'fanout', bus: props.bus, pattern: { detailType: [BREW_FINISHED, ORDER_CANCELLED], source: ['coffee.barista', 'coffee.orders'] } },
      environment: { POWERTOOLS_SERVICE_NAME: 'coffee-counter' },
      encryptionKey: this.outbox.key,
      removalPolicy,
    });
    grantService(this.outbox, this.pickups.function, 'dynamodb:UpdateItem');
  }
}
