import { RemovalPolicy } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';
import { BREW_STARTED } from '../../../functions/coffee/barista/ticket';
import { EventConsumer } from '../../constructs/EventConsumer';
import { PersonalDataVault } from '../../constructs/PersonalDataVault';
import { ToolkitFunction } from '../../constructs/ToolkitFunction';
import { TransactionalOutbox } from '../../constructs/TransactionalOutbox';
import { grantService } from './grantService';

export interface ServiceProps {
  /** The coffee shop's bus: every service publishes its events there. */
  readonly bus: events.IEventBus;
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The orders service: owns orders. Its HTTP routes place and cancel them; it learns from the
 * barista's `coffee.brew.started` that an order can no longer be cancelled. Customers' names and
 * emails are sealed per customer in its vault; erasing a customer destroys their key.
 */
export class OrdersService extends Construct {
  public readonly outbox: TransactionalOutbox;
  public readonly customers: PersonalDataVault;
  public readonly api: ToolkitFunction;
  public readonly eraseCustomer: ToolkitFunction;
  public readonly brewStarted: EventConsumer;

  constructor(scope: Construct, id: string, props: ServiceProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.outbox = new TransactionalOutbox(this, 'Outbox', { source: 'coffee.orders', eventBus: props.bus, removalPolicy });

    this.api = new ToolkitFunction(this, 'Api', {
      entry: 'functions/coffee/orders/ordersApiHandler.ts',
      description: 'Orders HTTP API: PlaceOrder and CancelOrder',
      environment: { POWERTOOLS_SERVICE_NAME: 'coffee-orders' },
    });
    // CancelOrder reads the order (consistent) and guards its commit on the brew-start record.
    grantService(this.outbox, this.api, 'dynamodb:GetItem', 'dynamodb:ConditionCheckItem');

    this.customers = new PersonalDataVault(this, 'Customers', { removalPolicy });
    this.customers.grantSeal(this.api);
    this.eraseCustomer = this.customers.addEraseFunction(this.outbox, 'EraseCustomer');

    this.brewStarted = new EventConsumer(this, 'BrewStarted', {
      entry: 'functions/coffee/orders/brewStartedHandler.ts',
      source: { kind: 'fanout', bus: props.bus, pattern: { source: ['coffee.barista'], detailType: [BREW_STARTED] } },
      environment: { POWERTOOLS_SERVICE_NAME: 'coffee-orders' },
      encryptionKey: this.outbox.key,
      removalPolicy,
    });
    grantService(this.outbox, this.brewStarted.function, 'dynamodb:UpdateItem');
  }
}
