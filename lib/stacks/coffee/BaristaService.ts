import { RemovalPolicy } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { EventConsumer } from '../../constructs/EventConsumer';
import type { PersonalDataVault } from '../../constructs/PersonalDataVault';
import { ToolkitFunction } from '../../constructs/ToolkitFunction';
import { TransactionalOutbox } from '../../constructs/TransactionalOutbox';
import { grantService } from './grantService';
import type { ServiceProps } from './OrdersService';

export interface BaristaServiceProps extends ServiceProps {
  /** The orders service's outbox: the barista follows its events in per-order order. */
  readonly orders: TransactionalOutbox;
  /** Opens the customer's sealed name (to know whether it can be called out). */
  readonly customers: PersonalDataVault;
}

/**
 * The barista: an ordered consumer of the orders service's events keeps the work queue; the
 * barista's tablet starts and finishes drinks through HTTP routes (`coffee.brew.started`/`finished`).
 */
export class BaristaService extends Construct {
  public readonly outbox: TransactionalOutbox;
  public readonly api: ToolkitFunction;
  public readonly queue: EventConsumer;

  constructor(scope: Construct, id: string, props: BaristaServiceProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.outbox = new TransactionalOutbox(this, 'Outbox', { source: 'coffee.barista', eventBus: props.bus, removalPolicy });

    this.api = new ToolkitFunction(this, 'Api', {
      entry: 'functions/coffee/barista/baristaApiHandler.ts',
      description: 'Barista HTTP API: StartBrew and FinishBrew',
      environment: { POWERTOOLS_SERVICE_NAME: 'coffee-barista' },
    });
    // Reads the queue item and the ticket (consistent) and guards its commit on the queue item.
    grantService(this.outbox, this.api, 'dynamodb:GetItem', 'dynamodb:ConditionCheckItem');

    this.queue = new EventConsumer(this, 'OrderQueue', {
      entry: 'functions/coffee/barista/orderQueueHandler.ts',
      source: { kind: 'ordered', outbox: props.orders },
      environment: { POWERTOOLS_SERVICE_NAME: 'coffee-barista' },
      removalPolicy,
    });
    grantService(this.outbox, this.queue.function, 'dynamodb:UpdateItem');
    props.customers.grantOpen(this.queue.function);
  }
}
