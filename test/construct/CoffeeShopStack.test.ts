import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CfnElement, type Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { WAIT_TIME_EVENTS } from '../../functions/coffee/analytics/waitTimes';
import { BREW_FINISHED, BREW_STARTED } from '../../functions/coffee/barista/ticket';
import { BOARD_EVENTS, BOARD_EXPIRES_AT, BOARD_OPEN_INDEX, OPEN_STAGE_ATTRIBUTE } from '../../functions/coffee/board/board';
import { QUERIES_ENV } from '../../functions/coffee/board/queriesConfig';
import { ORDER_SERVED } from '../../functions/coffee/counter/pickup';
import { ORDER_CANCELLED } from '../../functions/coffee/orders/cancelOrder';
import { ORDER_PLACED } from '../../functions/coffee/orders/placeOrder';
import { ORDER_OVERDUE } from '../../functions/coffee/probe/probe';
import { RELAY_ENV } from '../../functions/toolkit/relay/relayConfig';
import { EventConsumer } from '../../lib/constructs/EventConsumer';
import { ProjectionTable } from '../../lib/constructs/ProjectionTable';
import { ToolkitFunction } from '../../lib/constructs/ToolkitFunction';
import type { TransactionalOutbox } from '../../lib/constructs/TransactionalOutbox';
import { BaristaService } from '../../lib/stacks/coffee/BaristaService';
import { BusinessProbe } from '../../lib/stacks/coffee/BusinessProbe';
import { CounterService } from '../../lib/stacks/coffee/CounterService';
import { OrdersService } from '../../lib/stacks/coffee/OrdersService';
import { CoffeeShopStack } from '../../lib/stacks/CoffeeShopStack';
import { expectTlsOnlyPolicy } from './support/expectTlsOnlyPolicy';
import { routesNotAsRuled } from './support/routeAccess';
import { COFFEE_ACCESS, COFFEE_ROLES } from '../../functions/coffee/access';
import { allow, permissionSet, permissionsOf, eventBridgeKeysSharedBeyondItsQueues, putEventsAs, putEventsWithoutSource, wildcardAllows, type Permission } from './support/iamPermissions';
import { projectApp, SKIP_BUNDLING } from './support/projectApp';
import { renderIntrinsic } from './support/renderIntrinsic';
import { AlarmProps, FunctionProps, GetAtt, IntegrationProps, MappingProps, PolicyProps, QueueProps, Ref, Resources, RouteProps, RuleProps } from './support/templateShapes';

/** Who publishes each event type (the contract): a rule for a type must name exactly its producer as `source`. */
const PRODUCER: Readonly<Record<string, string>> = {
  [ORDER_PLACED]: 'coffee.orders',
  [ORDER_CANCELLED]: 'coffee.orders',
  [BREW_STARTED]: 'coffee.barista',
  [BREW_FINISHED]: 'coffee.barista',
  [ORDER_SERVED]: 'coffee.counter',
  [ORDER_OVERDUE]: 'coffee.probe',
};


/** A synthesized stack, read through its constructs (never through hashed logical ids written down). */
class SynthesizedStack {
  readonly template: Template;
  readonly resources: z.infer<typeof Resources>;

  constructor(readonly stack: CoffeeShopStack) {
    this.template = Template.fromStack(stack);
    this.resources = Resources.parse(this.template.toJSON().Resources);
  }

  idOf(construct: IConstruct): string {
    const element = (construct.node.defaultChild ?? construct) as CfnElement;
    return this.stack.getLogicalId(element);
  }

  idsOfType(type: string): string[] {
    return Object.keys(this.resources).filter((id) => this.resources[id]!.Type === type);
  }

  props<S extends z.ZodType>(id: string, schema: S): z.infer<S> {
    const resource = this.resources[id];
    if (!resource) throw new Error(`${id} is not in the template`);
    return schema.parse(resource.Properties);
  }

  environmentOf(fn: lambda.IFunction): Record<string, unknown> {
    return this.props(this.idOf(fn), FunctionProps).Environment?.Variables ?? {};
  }

  permissionsOf(fn: lambda.IFunction): Permission[] {
    return permissionsOf(this.template, this.stack, fn.role);
  }

  /** The logical ids a JSON list of queue URLs (`["{{Ref:Queue}}", …]`) names. */
  queueIdsIn(value: unknown): string[] {
    const urls = z.array(z.string()).parse(JSON.parse(renderIntrinsic(value)));
    return urls.map((url) => /^\{\{Ref:(.+)\}\}$/.exec(url)?.[1] ?? url);
  }
}

/** `scope.node.findChild(id)`, checked to be a `type`: the test names the stack's parts as CoffeeShopStack does. */
function child<T>(scope: IConstruct, id: string, type: abstract new (...args: never[]) => T): T {
  const found = scope.node.findChild(id);
  if (!(found instanceof type)) throw new Error(`${scope.node.path}/${id} is not a ${type.name}`);
  return found;
}

const arnOf = (stack: Stack, table: dynamodb.ITable): unknown => stack.resolve(table.tableArn);

describe('CoffeeShopStack', () => {
  let synth: SynthesizedStack;
  let stack: CoffeeShopStack;
  let orders: OrdersService;
  let barista: BaristaService;
  let counter: CounterService;
  let probe: BusinessProbe;
  let board: ProjectionTable;
  let waitTimes: ProjectionTable;
  let boardProjection: EventConsumer;
  let analytics: EventConsumer;
  let queries: ToolkitFunction;
  let outboxes: Record<'orders' | 'barista' | 'counter' | 'probe', TransactionalOutbox>;

  // Bundled for real (local esbuild), once: a handler that no longer bundles fails here.
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffee-shop-'));
  afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

  beforeAll(() => {
    stack = new CoffeeShopStack(projectApp({ outdir }), 'CoffeeShop');
    synth = new SynthesizedStack(stack);
    orders = child(stack, 'Orders', OrdersService);
    barista = child(stack, 'Barista', BaristaService);
    counter = child(stack, 'Counter', CounterService);
    probe = child(stack, 'Probe', BusinessProbe);
    board = child(stack, 'Board', ProjectionTable);
    waitTimes = child(stack, 'WaitTimes', ProjectionTable);
    boardProjection = child(stack, 'BoardProjection', EventConsumer);
    analytics = child(stack, 'WaitTimeAnalytics', EventConsumer);
    queries = child(stack, 'Queries', ToolkitFunction);
    outboxes = { orders: orders.outbox, barista: barista.outbox, counter: counter.outbox, probe: probe.outbox };
  }, 300_000); // bundles every handler

  describe('services', () => {
    it('has one bus, `coffee`, and every service’s relay publishes to it', () => {
      const busIds = synth.idsOfType('AWS::Events::EventBus');
      expect(busIds).toHaveLength(1);
      expect(synth.resources[busIds[0]!]!.Properties.Name).toBe('coffee');

      for (const [service, outbox] of Object.entries(outboxes)) {
        expect(synth.environmentOf(outbox.relayFunction)[RELAY_ENV.eventBusName], service).toEqual({ Ref: busIds[0] });
        expect(synth.permissionsOf(outbox.relayFunction), service).toContainEqual(putEventsAs(outbox.source, { 'Fn::GetAtt': [busIds[0], 'Arn'] })[0]);
      }
    });

    it('gives each service (orders, barista, counter, probe) a table of its own, with a stream of new images, read by a relay of its own', () => {
      const tableIds = Object.values(outboxes).map((outbox) => synth.idOf(outbox.table));
      const relayIds = Object.values(outboxes).map((outbox) => synth.idOf(outbox.relayFunction));
      expect(new Set(tableIds).size).toBe(4);
      expect(new Set(relayIds).size).toBe(4);

      for (const [service, outbox] of Object.entries(outboxes)) {
        const tableId = synth.idOf(outbox.table);
        expect(synth.resources[tableId]!.Properties.StreamSpecification, service).toEqual({ StreamViewType: 'NEW_IMAGE' });
        const mappings = synth
          .idsOfType('AWS::Lambda::EventSourceMapping')
          .map((id) => synth.props(id, MappingProps))
          .filter((mapping) => mapping.EventSourceArn['Fn::GetAtt'][0] === tableId);
        expect(mappings.map((mapping) => mapping.FunctionName.Ref), service).toEqual([synth.idOf(outbox.relayFunction)]);
      }
      expect(Object.values(outboxes).map((outbox) => outbox.source)).toEqual(['coffee.orders', 'coffee.barista', 'coffee.counter', 'coffee.probe']);
      // Every event type of the contract has one of these services as its producer.
      expect([...new Set(Object.values(PRODUCER))].sort()).toEqual(Object.values(outboxes).map((outbox) => outbox.source).sort());
    });
  });

  describe('consumers', () => {
    it('feeds the barista’s order queue, a FIFO queue, from the orders relay in per-order order (an ordered consumer, not a bus rule)', () => {
      const queueId = synth.idOf(barista.queue.queue);
      expect(synth.props(queueId, QueueProps)).toMatchObject({ FifoQueue: true, QueueName: expect.stringMatching(/\.fifo$/) });

      expect(synth.queueIdsIn(synth.environmentOf(orders.outbox.relayFunction)[RELAY_ENV.orderedQueueUrls])).toEqual([queueId]);
      for (const outbox of [barista.outbox, counter.outbox, probe.outbox]) {
        expect(synth.queueIdsIn(synth.environmentOf(outbox.relayFunction)[RELAY_ENV.orderedQueueUrls]), outbox.source).toEqual([]);
      }
      expect(synth.permissionsOf(orders.outbox.relayFunction)).toContainEqual(allow(['sqs:SendMessage'], { 'Fn::GetAtt': [queueId, 'Arn'] })[0]);
      const ruleTargets = synth.idsOfType('AWS::Events::Rule').flatMap((id) => synth.props(id, RuleProps).Targets.map((t) => t.Arn['Fn::GetAtt'][0]));
      expect(ruleTargets).not.toContain(queueId);
      expect(barista.queue.rule).toBeUndefined();
    });

    it('routes to each fan-out consumer exactly the event types its handler handles, from exactly their producers', () => {
      const busId = synth.idsOfType('AWS::Events::EventBus')[0];
      const consumers: [string, EventConsumer, readonly string[]][] = [
        ['counter pickups (pickupHandler.ts)', counter.pickups, [BREW_FINISHED, ORDER_CANCELLED]],
        ['orders’ brew-started (brewStartedHandler.ts)', orders.brewStarted, [BREW_STARTED]],
        ['board projection (BOARD_EVENTS)', boardProjection, Object.keys(BOARD_EVENTS)],
        ['wait-time analytics (WAIT_TIME_EVENTS)', analytics, Object.keys(WAIT_TIME_EVENTS)],
      ];

      for (const [name, consumer, types] of consumers) {
        expect(consumer.rule, name).toBeDefined();
        const rule = synth.props(synth.idOf(consumer.rule!), RuleProps);
        expect(rule.EventBusName, name).toEqual({ Ref: busId });
        expect([...(rule.EventPattern?.['detail-type'] ?? [])].sort(), name).toEqual([...types].sort());
        expect([...(rule.EventPattern?.source ?? [])].sort(), name).toEqual([...new Set(types.map((type) => PRODUCER[type]))].sort());
        expect(rule.Targets.map((target) => target.Arn['Fn::GetAtt'][0]), name).toEqual([synth.idOf(consumer.queue)]);
      }
      // No other rule takes events off the bus.
      const busRules = synth.idsOfType('AWS::Events::Rule').filter((id) => synth.props(id, RuleProps).EventBusName !== undefined);
      expect(busRules.sort()).toEqual(consumers.map(([, consumer]) => synth.idOf(consumer.rule!)).sort());
    });

    it('runs the business probe every minute with the 5-minute threshold as its input', () => {
      const rule = synth.props(synth.idOf(probe.rule), RuleProps);

      expect(rule.ScheduleExpression).toBe('rate(1 minute)');
      expect(rule.Targets).toHaveLength(1);
      expect(rule.Targets[0]!.Arn).toEqual({ 'Fn::GetAtt': [synth.idOf(probe.function), 'Arn'] });
      expect(JSON.parse(rule.Targets[0]!.Input ?? 'null')).toEqual({ overdueAfterSeconds: 300 });
    });
  });

  describe('HTTP API', () => {
    it('has exactly the shop’s routes, each to the function of its service', () => {
      const integrationFunction = (target: unknown): string => {
        const integrationId = /^integrations\/\{\{Ref:(.+)\}\}$/.exec(renderIntrinsic(target))?.[1];
        if (!integrationId) throw new Error(`not an integration target: ${JSON.stringify(target)}`);
        return synth.props(integrationId, IntegrationProps).IntegrationUri['Fn::GetAtt'][0];
      };
      const httpApiIds = synth.idsOfType('AWS::ApiGatewayV2::Api').filter((id) => synth.resources[id]!.Properties.ProtocolType === 'HTTP');
      expect(httpApiIds).toHaveLength(1);

      const routes = Object.fromEntries(
        synth
          .idsOfType('AWS::ApiGatewayV2::Route')
          .map((id) => synth.props(id, RouteProps))
          .filter((route) => route.ApiId.Ref === httpApiIds[0])
          .map((route) => [route.RouteKey, integrationFunction(route.Target)]),
      );

      expect(routes).toEqual({
        'POST /orders': synth.idOf(orders.api),
        'POST /orders/{orderId}/cancel': synth.idOf(orders.api),
        'POST /barista/orders/{orderId}/start': synth.idOf(barista.api),
        'POST /barista/orders/{orderId}/finish': synth.idOf(barista.api),
        'POST /counter/orders/{orderId}/serve': synth.idOf(counter.api),
        'GET /board': synth.idOf(queries),
        'GET /board/orders/{orderId}': synth.idOf(queries),
        'GET /analytics/wait-times': synth.idOf(queries),
      });
    });

    it('protects every route as the shop’s access rules say: the JWT authorizer of its user pool on each, but the documented public board', () => {
      expect(routesNotAsRuled(synth.template, COFFEE_ACCESS)).toEqual([]);
      expect(Object.entries(COFFEE_ACCESS).filter(([, rule]) => 'public' in rule).map(([key]) => key)).toEqual(['GET /board', 'GET /board/orders/{orderId}']);
      // one group per role
      const groups = synth.idsOfType('AWS::Cognito::UserPoolGroup').map((id) => synth.resources[id]!.Properties.GroupName);
      expect(groups.sort()).toEqual([...COFFEE_ROLES].sort());
      synth.template.hasResourceProperties('AWS::Cognito::UserPool', { AdminCreateUserConfig: { AllowAdminCreateUserOnly: true } });
      synth.template.hasResourceProperties('AWS::Cognito::UserPoolClient', { GenerateSecret: false, ExplicitAuthFlows: Match.arrayWith(['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_USER_SRP_AUTH']) });
    });

    it('keeps the board bounded: closed rows expire (TTL on expiresAt) and open orders are indexed by stage (sparse)', () => {
      const table = synth.resources[synth.idOf(board.table)]!.Properties;
      expect(table.TimeToLiveSpecification).toEqual({ AttributeName: BOARD_EXPIRES_AT, Enabled: true });
      expect(table.GlobalSecondaryIndexes).toEqual([{ IndexName: BOARD_OPEN_INDEX, KeySchema: [{ AttributeName: OPEN_STAGE_ATTRIBUTE, KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } }]);
    });

    it('allows no browser origin unless configured (CORS: see ServiceHttpApi.test.ts)', () => {
      synth.template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP', CorsConfiguration: Match.absent() });
    });

    it('access-logs its default stage to a log group', () => {

      const stages = synth
        .idsOfType('AWS::ApiGatewayV2::Stage')
        .map((id) => synth.resources[id]!.Properties)
        .filter((stage) => stage.StageName === '$default');
      expect(stages).toHaveLength(1);
      const accessLogs = z.object({ DestinationArn: GetAtt, Format: z.string() }).parse(stages[0]!.AccessLogSettings);
      expect(synth.resources[accessLogs.DestinationArn['Fn::GetAtt'][0]]!.Type).toBe('AWS::Logs::LogGroup');
      expect(JSON.parse(accessLogs.Format)).toMatchObject({ requestId: '$context.requestId', route: '$context.routeKey', status: '$context.status' });
    });

    it('throttles every route of every stage (50 requests/s, bursts of 100): API load cannot take the account’s concurrency from the relays', () => {
      const stages = synth.idsOfType('AWS::ApiGatewayV2::Stage').map((id) => synth.resources[id]!.Properties);
      expect(stages.length).toBeGreaterThan(1); // the HTTP API's and the live updates' WebSocket stage
      for (const stage of stages) expect(stage.DefaultRouteSettings).toMatchObject({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 });
    });
  });

  describe('IAM least privilege', () => {
    const serviceTableArns = () => Object.values(outboxes).map((outbox) => arnOf(stack, outbox.table));
    const onServiceTables = (permissions: Permission[]) =>
      permissions.filter((p) => p.action.startsWith('dynamodb:') && serviceTableArns().some((arn) => JSON.stringify(arn) === JSON.stringify(p.resource)));

    it('lets EventBridge use only keys that encrypt the queues its rules write to, and nothing else', () => {
      expect(eventBridgeKeysSharedBeyondItsQueues(synth.template)).toEqual([]);
    });

    it('lets no one put events on a bus except under an `events:source` condition (a relay puts only its own service’s events)', () => {
      expect(putEventsWithoutSource(synth.template)).toEqual([]);
    });

    it('allows no action `*` or `service:*` anywhere, and on every resource (`*`) only what has no resource-level permissions', () => {
      expect(wildcardAllows(synth.template)).toEqual([]);

      const onEveryResource = synth
        .idsOfType('AWS::IAM::Policy')
        .flatMap((id) => synth.props(id, PolicyProps).PolicyDocument.Statement)
        .filter((statement) => statement.Effect === 'Allow' && [statement.Resource].flat().includes('*'))
        .flatMap((statement) => [statement.Action].flat());
      // dynamodb:ListStreams (the stream mappings of the relays and the live push) has no resource-level permissions.
      expect([...new Set(onEveryResource)]).toEqual(['dynamodb:ListStreams']);
    });

    it('lets the API functions of orders, barista and counter Put, Get and ConditionCheck on their own table, and orders and barista only ConditionCheck on each other’s (the cancel-vs-start arbiter)', () => {
      for (const [service, fn, outbox, arbiter] of [
        ['orders', orders.api, orders.outbox, barista.outbox],
        ['barista', barista.api, barista.outbox, orders.outbox],
        ['counter', counter.api, counter.outbox, undefined],
      ] as const) {
        const permissions = synth.permissionsOf(fn);
        expect(onServiceTables(permissions), service).toEqual(
          permissionSet(
            allow(['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:ConditionCheckItem'], arnOf(stack, outbox.table)),
            ...(arbiter ? [allow(['dynamodb:ConditionCheckItem'], arnOf(stack, arbiter.table))] : []),
          ),
        );
        expect(permissions.filter((p) => p.action.startsWith('dynamodb:') && p.resource === '*'), service).toEqual([]);
      }
    });

    it('lets the queries function only read, and only the board and wait-time tables', () => {
      const dynamodbPermissions = synth.permissionsOf(queries).filter((p) => p.action.startsWith('dynamodb:'));

      expect(dynamodbPermissions).toEqual(
        permissionSet(allow(['dynamodb:GetItem', 'dynamodb:Scan', 'dynamodb:Query'], [arnOf(stack, board.table), stack.resolve(`${board.table.tableArn}/index/${BOARD_OPEN_INDEX}`), arnOf(stack, waitTimes.table)])),
      );
      expect(synth.permissionsOf(queries).filter((p) => p.action.startsWith('kms:'))).toEqual(
        permissionSet(allow(['kms:Decrypt'], [stack.resolve(board.key.keyArn), stack.resolve(waitTimes.key.keyArn)])),
      );
      expect(synth.environmentOf(queries)).toMatchObject({
        [QUERIES_ENV.boardTable]: stack.resolve(board.table.tableName),
        [QUERIES_ENV.waitTimesTable]: stack.resolve(waitTimes.table.tableName),
      });
    });

    it('lets the board projection Query the four service tables (their logs) and write none of them', () => {
      const permissions = synth.permissionsOf(boardProjection.function);

      expect(onServiceTables(permissions)).toEqual(permissionSet(allow(['dynamodb:Query'], serviceTableArns())));
      // Their keys: decrypt only.
      const serviceKeyArns = Object.values(outboxes).map((outbox) => JSON.stringify(stack.resolve(outbox.key.keyArn)));
      const onServiceKeys = permissions.filter((p) => serviceKeyArns.includes(JSON.stringify(p.resource)));
      expect([...new Set(onServiceKeys.map((p) => p.action))]).toEqual(['kms:Decrypt']);
      expect(onServiceKeys).toHaveLength(4);
    });
  });

  describe('queues', () => {
    it('encrypts every SQS queue with a KMS key of the stack and accepts TLS only', () => {
      const queueIds = synth.idsOfType('AWS::SQS::Queue');
      const keyIds = synth.idsOfType('AWS::KMS::Key');

      expect(queueIds.length).toBeGreaterThan(0);
      for (const queueId of queueIds) {
        expect(keyIds, `KmsMasterKeyId of ${queueId}`).toContain(synth.props(queueId, QueueProps).KmsMasterKeyId['Fn::GetAtt'][0]);
        expectTlsOnlyPolicy(synth.template, queueId);
      }
    });

    it('has an alarm on every dead-letter queue (of a queue, a rule target or a stream mapping), and every other queue is consumed', () => {
      const deadLetterQueueIds = new Set([
        ...synth.idsOfType('AWS::SQS::Queue').flatMap((id) => synth.props(id, QueueProps).RedrivePolicy?.deadLetterTargetArn['Fn::GetAtt'][0] ?? []),
        ...synth.idsOfType('AWS::Events::Rule').flatMap((id) => synth.props(id, RuleProps).Targets.flatMap((t) => t.DeadLetterConfig?.Arn['Fn::GetAtt'][0] ?? [])),
        ...synth.idsOfType('AWS::Lambda::EventSourceMapping').flatMap((id) => synth.props(id, MappingProps).DestinationConfig?.OnFailure.Destination['Fn::GetAtt'][0] ?? []),
      ]);
      const consumedIds = new Set(synth.idsOfType('AWS::Lambda::EventSourceMapping').map((id) => synth.props(id, MappingProps).EventSourceArn['Fn::GetAtt'][0]));
      const alarmedQueueIds = new Set(
        synth
          .idsOfType('AWS::CloudWatch::Alarm')
          .map((id) => synth.props(id, AlarmProps))
          .filter((alarm) => alarm.Namespace === 'AWS/SQS' && alarm.MetricName === 'ApproximateNumberOfMessagesVisible')
          .filter((alarm) => alarm.Threshold === 0 && alarm.ComparisonOperator === 'GreaterThanThreshold')
          .flatMap((alarm) => (alarm.Dimensions ?? []).filter((d) => d.Name === 'QueueName').map((d) => GetAtt.parse(d.Value)['Fn::GetAtt'][0])),
      );

      expect(deadLetterQueueIds.size).toBeGreaterThan(0);
      for (const id of deadLetterQueueIds) expect(alarmedQueueIds, `alarm on ${id}`).toContain(id);
      for (const id of synth.idsOfType('AWS::SQS::Queue')) expect(consumedIds.has(id) || deadLetterQueueIds.has(id), `${id} is neither consumed nor a dead-letter queue`).toBe(true);
      // Every service relay and every consumer has its dead-letter queue among them.
      const queue = (q: sqs.IQueue) => synth.idOf(q);
      for (const outbox of Object.values(outboxes)) expect(deadLetterQueueIds).toContain(queue(outbox.deadLetterQueue));
      for (const consumer of [orders.brewStarted, barista.queue, counter.pickups, boardProjection, analytics]) expect(deadLetterQueueIds).toContain(queue(consumer.deadLetterQueue));
    });
  });
});

describe('CoffeeShopStack without analytics (`withAnalytics: false`)', () => {
  let full: SynthesizedStack;
  let lean: SynthesizedStack;

  beforeAll(() => {
    full = new SynthesizedStack(new CoffeeShopStack(projectApp({ context: SKIP_BUNDLING }), 'CoffeeShop'));
    lean = new SynthesizedStack(new CoffeeShopStack(projectApp({ context: SKIP_BUNDLING }), 'CoffeeShop', { withAnalytics: false }));
  }, 120_000);

  it('leaves out exactly the wait-time table and its consumer (and nothing else)', () => {
    const pathOf = new Map(full.stack.node.findAll().flatMap((c) => (c instanceof CfnElement ? [[full.stack.getLogicalId(c), c.node.path] as const] : [])));
    const leftOut = Object.keys(full.resources).filter((id) => !(id in lean.resources));

    expect(Object.keys(lean.resources).filter((id) => !(id in full.resources))).toEqual([]);
    expect(leftOut.length).toBeGreaterThan(0);
    expect(leftOut.map((id) => pathOf.get(id)).filter((p) => !/^CoffeeShop\/(WaitTimes|WaitTimeAnalytics)\//.test(p ?? ''))).toEqual([]);
    // What was left out includes the table and the consumer's function, queue and rule.
    const leftOutTypes = new Set(leftOut.map((id) => full.resources[id]!.Type));
    for (const type of ['AWS::DynamoDB::Table', 'AWS::Lambda::Function', 'AWS::SQS::Queue', 'AWS::Events::Rule']) expect(leftOutTypes).toContain(type);
    expect(lean.stack.node.tryFindChild('WaitTimes')).toBeUndefined();
    expect(lean.stack.node.tryFindChild('WaitTimeAnalytics')).toBeUndefined();
  });

  it('gives the queries function no WAIT_TIMES_TABLE and no access to a wait-time table', () => {
    const queries = child(lean.stack, 'Queries', ToolkitFunction);
    const board = child(lean.stack, 'Board', ProjectionTable);

    expect(lean.environmentOf(queries)).not.toHaveProperty(QUERIES_ENV.waitTimesTable);
    expect(lean.environmentOf(queries)).toHaveProperty(QUERIES_ENV.boardTable);
    expect(lean.permissionsOf(queries).filter((p) => p.action.startsWith('dynamodb:'))).toEqual(
      permissionSet(allow(['dynamodb:GetItem', 'dynamodb:Scan', 'dynamodb:Query'], [arnOf(lean.stack, board.table), lean.stack.resolve(`${board.table.tableArn}/index/${BOARD_OPEN_INDEX}`)])),
    );
  });
});
