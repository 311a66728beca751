import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';
import { WAIT_TIME_EVENTS } from '../../functions/coffee/analytics/waitTimes';
import { BOARD_EVENTS, BOARD_EXPIRES_AT, BOARD_OPEN_INDEX, OPEN_STAGE_ATTRIBUTE } from '../../functions/coffee/board/board';
import { QUERIES_ENV } from '../../functions/coffee/board/queriesConfig';
import { EventConsumer } from '../constructs/EventConsumer';
import { LiveUpdates } from '../constructs/LiveUpdates';
import { ProjectionTable } from '../constructs/ProjectionTable';
import { ServiceHttpApi } from '../constructs/ServiceHttpApi';
import { ToolkitFunction } from '../constructs/ToolkitFunction';
import { BaristaService } from './coffee/BaristaService';
import { BusinessProbe } from './coffee/BusinessProbe';
import { CounterService } from './coffee/CounterService';
import { OrdersService } from './coffee/OrdersService';
import { ARBITER_ENV } from '../../functions/coffee/shared/arbiterConfig';
import { COFFEE_ACCESS, COFFEE_ROLES } from '../../functions/coffee/access';
import { UserDirectory } from '../constructs/UserDirectory';

export interface CoffeeShopStackProps extends StackProps {
  /**
   * Deploys the wait-time analytics, the late-comer: `npm start` first deploys without it, places
   * orders, then deploys it and replays the logs into it. @default true
   */
  readonly withAnalytics?: boolean;
  /**
   * Origins a browser page may call the HTTP API from (CORS): the board site's, e.g. its CloudFront URL
   * (`cdk deploy -c coffee:allowedOrigins=https://d123.cloudfront.net`). @default none
   */
  readonly allowedOrigins?: readonly string[];
}

/**
 * The coffee shop, end to end. Services own their tables and outboxes and talk only through events
 * on one bus (choreography): orders → barista → counter. The order board is a read model of all of
 * them, served by the queries API and pushed live to the board page; a probe checks every order is
 * served in time; wait-time analytics join late and rebuild from the logs.
 */
export class CoffeeShopStack extends Stack {
  /** The HTTP API's URL (commands and queries). */
  public readonly apiUrl: string;
  /** The live board channel's URL (`wss://…`). */
  public readonly liveUrl: string;

  constructor(scope: Construct, id: string, props: CoffeeShopStackProps = {}) {
    super(scope, id, props);
    const removalPolicy = RemovalPolicy.DESTROY;
    const bus = new events.EventBus(this, 'Bus', { eventBusName: 'coffee', description: 'The coffee shop’s domain events' });

    const orders = new OrdersService(this, 'Orders', { bus, removalPolicy });
    const barista = new BaristaService(this, 'Barista', { bus, removalPolicy, orders: orders.outbox, customers: orders.customers });
    const counter = new CounterService(this, 'Counter', { bus, removalPolicy });
    // Cancel vs start: each commit checks the other service's item in the same transaction (read only).
    for (const [fn, table, variable] of [
      [orders.api, barista.outbox.table, ARBITER_ENV.baristaTableName],
      [barista.api, orders.outbox.table, ARBITER_ENV.ordersTableName],
    ] as const) {
      fn.addEnvironment(variable, table.tableName);
      table.grant(fn, 'dynamodb:ConditionCheckItem');
      table.encryptionKey?.grant(fn, 'kms:Decrypt');
    }

    // The order board: a projection of every service's events, caught up from their logs when needed.
    // Closed orders expire a day after they closed; the probe queries open orders by stage.
    const board = new ProjectionTable(this, 'Board', {
      stream: true,
      timeToLiveAttribute: BOARD_EXPIRES_AT,
      indexes: [{ indexName: BOARD_OPEN_INDEX, attribute: OPEN_STAGE_ATTRIBUTE }],
      removalPolicy,
    });
    const probe = new BusinessProbe(this, 'Probe', { bus, boardTable: board.table, removalPolicy });
    const boardProjection = new EventConsumer(this, 'BoardProjection', {
      entry: 'functions/coffee/board/boardProjectionHandler.ts',
      source: { kind: 'fanout', bus, pattern: { detailType: Object.keys(BOARD_EVENTS), source: ['coffee.orders', 'coffee.barista', 'coffee.counter', 'coffee.probe'] } },
      replayLogs: [orders.outbox, barista.outbox, counter.outbox, probe.outbox],
      environment: { POWERTOOLS_SERVICE_NAME: 'coffee-board' },
      encryptionKey: board.key,
      removalPolicy,
    });
    board.grantProject(boardProjection.function);
    const live = new LiveUpdates(this, 'Live', { table: board.table, messageKind: 'board.row', stageName: 'live', removalPolicy });

    const queries = new ToolkitFunction(this, 'Queries', {
      entry: 'functions/coffee/board/queriesApiHandler.ts',
      description: 'Board and analytics queries (read models only)',
      environment: { POWERTOOLS_SERVICE_NAME: 'coffee-board', [QUERIES_ENV.boardTable]: board.table.tableName },
    });
    board.grantRead(queries);

    const outputs: Record<string, string> = {};
    if (props.withAnalytics ?? true) {
      const waitTimes = new ProjectionTable(this, 'WaitTimes', { removalPolicy });
      const analytics = new EventConsumer(this, 'WaitTimeAnalytics', {
        entry: 'functions/coffee/analytics/waitTimesHandler.ts',
        source: { kind: 'fanout', bus, pattern: { detailType: Object.keys(WAIT_TIME_EVENTS), source: ['coffee.orders', 'coffee.counter'] } },
        replayLogs: [orders.outbox, counter.outbox],
        environment: { POWERTOOLS_SERVICE_NAME: 'coffee-analytics' },
        encryptionKey: waitTimes.key,
        removalPolicy,
      });
      waitTimes.grantProject(analytics.function);
      waitTimes.grantRead(queries);
      queries.addEnvironment(QUERIES_ENV.waitTimesTable, waitTimes.table.tableName);
      Object.assign(outputs, { WaitTimesTableName: waitTimes.table.tableName, WaitTimesQueueUrl: analytics.queue.queueUrl });
    }

    // Customers and staff sign in here; the board's routes are public (see functions/coffee/access.ts).
    const users = new UserDirectory(this, 'Users', { roles: COFFEE_ROLES, removalPolicy });
    const http = new ServiceHttpApi(this, 'Http', {
      description: 'Coffee shop: orders, barista, counter, board queries',
      access: COFFEE_ACCESS,
      authorizer: users.authorizer,
      allowOrigins: props.allowedOrigins ?? [],
      routes: {
        'POST /orders': orders.api,
        'POST /orders/{orderId}/cancel': orders.api,
        'POST /barista/orders/{orderId}/start': barista.api,
        'POST /barista/orders/{orderId}/finish': barista.api,
        'POST /counter/orders/{orderId}/serve': counter.api,
        'GET /board': queries,
        'GET /board/orders/{orderId}': queries,
        'GET /analytics/wait-times': queries,
      },
    });

    this.apiUrl = http.api.apiEndpoint;
    this.liveUrl = live.url;
    Object.assign(outputs, {
      BusName: bus.eventBusName,
      OrdersTableName: orders.outbox.table.tableName,
      BaristaTableName: barista.outbox.table.tableName,
      CounterTableName: counter.outbox.table.tableName,
      ProbeTableName: probe.outbox.table.tableName,
      BoardTableName: board.table.tableName,
      BoardQueueUrl: boardProjection.queue.queueUrl,
      BoardProjectionFunctionName: boardProjection.function.functionName,
      BaristaQueueFunctionName: barista.queue.function.functionName,
      ProbeFunctionName: probe.function.functionName,
      EraseCustomerFunctionName: orders.eraseCustomer.functionName,
      LiveApiId: live.api.apiId,
      LiveStageName: live.stage.stageName,
      LiveUrl: live.url,
      // What the chaos suite (test/chaos/coffeeFlow.ts) routes through its fault chain and reads back.
      QueriesFunctionName: queries.functionName,
      OrdersApiFunctionName: orders.api.functionName,
      OrdersRelayFunctionName: orders.outbox.relayFunction.functionName,
      OrdersRelayDeadLetterQueueUrl: orders.outbox.deadLetterQueue.queueUrl,
      OrdersBrewStartedFunctionName: orders.brewStarted.function.functionName,
      OrdersBrewStartedQueueUrl: orders.brewStarted.queue.queueUrl,
      OrdersBrewStartedDeadLetterQueueUrl: orders.brewStarted.deadLetterQueue.queueUrl,
      BaristaApiFunctionName: barista.api.functionName,
      BaristaRelayFunctionName: barista.outbox.relayFunction.functionName,
      BaristaRelayDeadLetterQueueUrl: barista.outbox.deadLetterQueue.queueUrl,
      BaristaQueueUrl: barista.queue.queue.queueUrl,
      BaristaDeadLetterQueueUrl: barista.queue.deadLetterQueue.queueUrl,
      BaristaIdempotencyTableName: barista.queue.idempotencyTable.tableName,
      CounterApiFunctionName: counter.api.functionName,
      CounterRelayFunctionName: counter.outbox.relayFunction.functionName,
      CounterRelayDeadLetterQueueUrl: counter.outbox.deadLetterQueue.queueUrl,
      CounterPickupsFunctionName: counter.pickups.function.functionName,
      CounterPickupsQueueUrl: counter.pickups.queue.queueUrl,
      CounterPickupsDeadLetterQueueUrl: counter.pickups.deadLetterQueue.queueUrl,
      CounterPickupsIdempotencyTableName: counter.pickups.idempotencyTable.tableName,
      BoardDeadLetterQueueUrl: boardProjection.deadLetterQueue.queueUrl,
    });
    for (const [name, value] of Object.entries(outputs)) new CfnOutput(this, name, { value });
  }
}
