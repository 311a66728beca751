import { Duration, RemovalPolicy, Stack, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ORDER_PLACED } from '../../functions/coffee/orders/placeOrder';
import { CIRCUIT_CLOSER_ENV, CIRCUIT_ENV } from '../../functions/toolkit/consumer/circuitBreakerConfig';
import { CONSUMER_ENV } from '../../functions/toolkit/consumer/consumerConfig';
import { PROJECTION_ENV } from '../../functions/toolkit/projection/projectionConfig';
import { RELAY_ENV } from '../../functions/toolkit/relay/relayConfig';
import type { ConsumerCircuitBreaker } from '../../lib/constructs/ConsumerCircuitBreaker';
import { EventConsumer, type EventConsumerProps } from '../../lib/constructs/EventConsumer';
import { TransactionalOutbox } from '../../lib/constructs/TransactionalOutbox';
import { thrownBy } from '../unit/fixtures';
import { expectTlsOnlyPolicy } from './support/expectTlsOnlyPolicy';
import { allow, permissionSet, permissionsOf, wildcardAllows } from './support/iamPermissions';
import { itPassesNagChecks } from './support/nagReport';
import { projectApp, SKIP_BUNDLING } from './support/projectApp';
import { renderIntrinsic } from './support/renderIntrinsic';

/**
 * Any handler file will do: these tests read templates and bundle nothing (NodejsFunction only checks
 * that the entry exists).
 */
const ENTRY = 'functions/coffee/counter/pickupHandler.ts';
const SOURCE = 'coffee.orders';
const ON_CALL = 'arn:aws:sns:us-east-1:111111111111:on-call';
const onCall: cloudwatch.IAlarmAction = { bind: () => ({ alarmActionArn: ON_CALL }) };
const FOURTEEN_DAYS_IN_SECONDS = 14 * 24 * 60 * 60;

function newStack(): Stack {
  return new Stack(projectApp({ context: SKIP_BUNDLING }), 'Test');
}

function newOutbox(stack: Stack): TransactionalOutbox {
  return new TransactionalOutbox(stack, 'Outbox', { source: SOURCE });
}

function orderedConsumer(stack: Stack, outbox: TransactionalOutbox, props: Partial<EventConsumerProps> = {}, id = 'Ordered'): EventConsumer {
  return new EventConsumer(stack, id, { entry: ENTRY, source: { kind: 'ordered', outbox }, ...props });
}

function fanoutConsumer(stack: Stack, bus: events.IEventBus, props: Partial<EventConsumerProps> = {}): EventConsumer {
  return new EventConsumer(stack, 'Fanout', {
    entry: ENTRY,
    source: { kind: 'fanout', bus, pattern: { source: [SOURCE], detailType: [ORDER_PLACED] } },
    ...props,
  });
}

function logicalIdOf(stack: Stack, construct: IConstruct): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnElement);
}

/** The synthesized resource behind `construct`. */
function resourceOf(template: Template, stack: Stack, construct: IConstruct): { Properties: Record<string, any>; DeletionPolicy?: string } {
  const resource = template.toJSON().Resources[logicalIdOf(stack, construct)];
  if (!resource) throw new Error(`${construct.node.path} is not in the template`);
  return { Properties: {}, ...resource };
}

function propertiesOf(template: Template, stack: Stack, construct: IConstruct): Record<string, any> {
  return resourceOf(template, stack, construct).Properties;
}

/** The alarm on a queue's visible messages: more than none, at the one-minute maximum, at once. */
function expectDeadLetterAlarm(template: Template, stack: Stack, alarm: cloudwatch.Alarm, queue: sqs.IQueue): void {
  expect(propertiesOf(template, stack, alarm)).toMatchObject({
    Namespace: 'AWS/SQS',
    MetricName: 'ApproximateNumberOfMessagesVisible',
    Dimensions: [{ Name: 'QueueName', Value: stack.resolve(queue.queueName) }],
    Statistic: 'Maximum',
    Period: 60,
    EvaluationPeriods: 1,
    ComparisonOperator: 'GreaterThanThreshold',
    Threshold: 0,
    TreatMissingData: 'notBreaching',
    AlarmActions: [ON_CALL],
  });
}


/** Exactly what a consumer's role may do, on its own resources, with `key` encrypting them. */
function consumerPermissions(stack: Stack, consumer: EventConsumer, key: kms.IKey) {
  return permissionSet(
    allow(['logs:CreateLogStream', 'logs:PutLogEvents'], stack.resolve(consumer.function.logGroup.logGroupArn)),
    // Inbox items and parked groups (BatchGetItem: a FIFO batch's groups at once), and what Powertools' DynamoDBPersistenceLayer calls.
    allow(['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'], stack.resolve(consumer.idempotencyTable.tableArn)),
    // The mapping's poller, and the handler's backoff.
    allow(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ChangeMessageVisibility'], stack.resolve(consumer.queue.queueArn)),
    allow(['sqs:SendMessage'], stack.resolve(consumer.deadLetterQueue.queueArn)),
    allow(['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'], stack.resolve(key.keyArn)),
    // A fan-out consumer's queues have a key of their own: receive, and send to its dead-letter queue.
    consumer.queueKey === key ? [] : allow(['kms:Decrypt', 'kms:GenerateDataKey'], stack.resolve(consumer.queueKey.keyArn)),
  );
}

describe('EventConsumer, ordered from an outbox, with its defaults', () => {
  let stack: Stack;
  let outbox: TransactionalOutbox;
  let consumer: EventConsumer;
  let template: Template;

  beforeAll(() => {
    // Arrange
    stack = newStack();
    outbox = newOutbox(stack);
    // Act
    consumer = orderedConsumer(stack, outbox, { alarmActions: [onCall] });
    template = Template.fromStack(stack);
  });

  describe('queues', () => {
    it('reads a FIFO queue named *.fifo, dead-lettered after maxAttempts + 2 = 7 receives to a FIFO queue named *.fifo', () => {
      const queue = propertiesOf(template, stack, consumer.queue);

      expect(queue).toMatchObject({
        FifoQueue: true,
        QueueName: expect.stringMatching(/^[A-Za-z0-9_-]{1,75}\.fifo$/),
        RedrivePolicy: { deadLetterTargetArn: stack.resolve(consumer.deadLetterQueue.queueArn), maxReceiveCount: 7 },
      });
      expect(propertiesOf(template, stack, consumer.deadLetterQueue)).toMatchObject({
        FifoQueue: true,
        QueueName: expect.stringMatching(/^[A-Za-z0-9_-]{1,75}\.fifo$/),
        MessageRetentionPeriod: FOURTEEN_DAYS_IN_SECONDS,
      });
      expect(queue.QueueName).not.toBe(propertiesOf(template, stack, consumer.deadLetterQueue).QueueName);
    });

    it('keeps a message invisible for six function timeouts (6 × 30 s)', () => {
      expect(propertiesOf(template, stack, consumer.queue).VisibilityTimeout).toBe(180);
      expect(propertiesOf(template, stack, consumer.function).Timeout).toBe(30);
    });

    it("is registered with the outbox relay: its URL is in the relay's ordered queue URLs", () => {
      const relayEnvironment = propertiesOf(template, stack, outbox.relayFunction).Environment.Variables;

      expect(JSON.parse(renderIntrinsic(relayEnvironment[RELAY_ENV.orderedQueueUrls]))).toEqual([
        renderIntrinsic(stack.resolve(consumer.queue.queueUrl)),
      ]);
    });

    it("are both encrypted with the outbox's key and accept TLS only", () => {
      expect(consumer.key).toBe(outbox.key);
      for (const queue of [consumer.queue, consumer.deadLetterQueue]) {
        expect(propertiesOf(template, stack, queue).KmsMasterKeyId).toEqual(stack.resolve(outbox.key.keyArn));
        expectTlsOnlyPolicy(template, logicalIdOf(stack, queue));
      }
    });

    it('has no rule, no rule dead-letter queue and no key of its own', () => {
      expect(consumer.rule).toBeUndefined();
      expect(consumer.ruleDeadLetterQueue).toBeUndefined();
      expect(consumer.ruleDeadLetterAlarm).toBeUndefined();
      template.resourceCountIs('AWS::Events::Rule', 0);
      template.resourceCountIs('AWS::KMS::Key', 1);
    });
  });

  it('maps the queue to the function: 10 messages a batch, at most 2 concurrent invocations, partial batch failures', () => {
    expect(propertiesOf(template, stack, consumer.eventSourceMapping)).toMatchObject({
      EventSourceArn: stack.resolve(consumer.queue.queueArn),
      FunctionName: stack.resolve(consumer.function.functionName),
      BatchSize: 10,
      ScalingConfig: { MaximumConcurrency: 2 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 2); // the relay's stream mapping and this one
  });

  it('keeps idempotency records in a table keyed by `id` with TTL on `expiration`, PITR, the outbox key, retained', () => {
    const table = resourceOf(template, stack, consumer.idempotencyTable);

    expect(table.Properties).toMatchObject({
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: stack.resolve(outbox.key.keyArn) },
    });
    expect(table.DeletionPolicy).toBe('Retain');
  });

  it('raises an alarm with the actions given as soon as the dead-letter queue holds a message', () => {
    expectDeadLetterAlarm(template, stack, consumer.deadLetterAlarm, consumer.deadLetterQueue);
  });

  it('sets every CONSUMER_* variable and the service name, nothing else', () => {
    expect(propertiesOf(template, stack, consumer.function).Environment.Variables).toEqual({
      NODE_OPTIONS: '--enable-source-maps', // every ToolkitFunction's
      POWERTOOLS_SERVICE_NAME: 'Ordered',
      [CONSUMER_ENV.idempotencyTableName]: stack.resolve(consumer.idempotencyTable.tableName),
      [CONSUMER_ENV.queueUrl]: stack.resolve(consumer.queue.queueUrl),
      [CONSUMER_ENV.deadLetterQueueUrl]: stack.resolve(consumer.deadLetterQueue.queueUrl),
      [CONSUMER_ENV.maxAttempts]: '5',
      [CONSUMER_ENV.backoffBaseSeconds]: '2',
      [CONSUMER_ENV.backoffMaxSeconds]: '300',
      // The outbox keeps its log 30 days and can replay it: longer than the 20 days a redelivery may take.
      [CONSUMER_ENV.dedupWindowSeconds]: String(30 * 86_400),
      // Its outbox's source only: anything else on its queue is poison.
      [CONSUMER_ENV.eventSources]: JSON.stringify([outbox.source]),
    });
  });

  describe('IAM', () => {
    it('lets the function do exactly what a consumer needs, on its own resources only', () => {
      expect(permissionsOf(template, stack, consumer.function.role)).toEqual(consumerPermissions(stack, consumer, outbox.key));
    });

    it('lets the relay send to the queue', () => {
      expect(permissionsOf(template, stack, outbox.relayFunction.role)).toEqual(
        expect.arrayContaining(allow(['sqs:SendMessage'], stack.resolve(consumer.queue.queueArn))),
      );
    });

    it('allows no action `*` or `service:*` anywhere', () => {
      expect(wildcardAllows(template)).toEqual([]);
    });
  });
});

describe('EventConsumer, fan-out from a bus, with options', () => {
  let stack: Stack;
  let bus: events.EventBus;
  let consumer: EventConsumer;
  let template: Template;
  let queues: sqs.Queue[];

  beforeAll(() => {
    // Arrange
    stack = newStack();
    bus = new events.EventBus(stack, 'Bus');
    // Act
    consumer = fanoutConsumer(stack, bus, {
      maxAttempts: 4,
      timeout: Duration.seconds(20),
      batchSize: 5,
      maxConcurrency: 7,
      backoffBase: Duration.seconds(1),
      backoffMax: Duration.minutes(1),
      dedupWindow: Duration.days(21),
      environment: { POWERTOOLS_SERVICE_NAME: 'coffee-board', BOARD_SIZE: '12' },
      alarmActions: [onCall],
    });
    template = Template.fromStack(stack);
    queues = [consumer.queue, consumer.deadLetterQueue, consumer.ruleDeadLetterQueue!];
  });

  describe('rule', () => {
    it('matches the pattern on the bus and targets the queue, retrying 8 times for up to 24 h, then its own dead-letter queue', () => {
      const rule = propertiesOf(template, stack, consumer.rule!);

      expect(rule).toMatchObject({
        EventBusName: stack.resolve(bus.eventBusName),
        EventPattern: { source: [SOURCE], 'detail-type': [ORDER_PLACED] },
      });
      expect(rule.Targets).toHaveLength(1);
      expect(rule.Targets[0]).toMatchObject({
        Arn: stack.resolve(consumer.queue.queueArn),
        DeadLetterConfig: { Arn: stack.resolve(consumer.ruleDeadLetterQueue!.queueArn) },
        RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 86_400 },
      });
    });

    it('lets EventBridge use the queues’ key only, for rules of this account (aws:SourceAccount), and not the state table’s', () => {
      const forEventBridge = (key: kms.IKey) => (propertiesOf(template, stack, key).KeyPolicy.Statement as Record<string, any>[]).filter((statement) => statement.Principal?.Service === 'events.amazonaws.com');

      expect(consumer.queueKey).not.toBe(consumer.key);
      expect(forEventBridge(consumer.key)).toEqual([]);
      expect(forEventBridge(consumer.queueKey)).toHaveLength(1);
      expect(forEventBridge(consumer.queueKey)[0]).toMatchObject({
        Effect: 'Allow',
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      });
    });

    it('lets EventBridge send to the queue for this rule only, and to the rule dead-letter queue for this rule only', () => {
      const ruleArn = stack.resolve(consumer.rule!.ruleArn);
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: logicalIdOf(stack, consumer.queue) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Principal: { Service: 'events.amazonaws.com' },
              Action: 'sqs:SendMessage',
              Resource: stack.resolve(consumer.queue.queueArn),
              Condition: { ArnNotEquals: { 'aws:SourceArn': ruleArn } },
            }),
          ]),
        },
      });
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: logicalIdOf(stack, consumer.ruleDeadLetterQueue!) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Allow',
              Principal: { Service: 'events.amazonaws.com' },
              Action: 'sqs:SendMessage',
              Condition: { ArnEquals: { 'aws:SourceArn': ruleArn } },
            }),
          ]),
        },
      });
    });
  });

  describe('queues', () => {
    it('reads a standard queue, dead-lettered after maxAttempts + 2 = 6 receives; both dead-letter queues keep messages 14 days', () => {
      const queue = propertiesOf(template, stack, consumer.queue);

      expect(queue.FifoQueue).toBeUndefined();
      expect(queue.QueueName).toBeUndefined();
      expect(queue.RedrivePolicy).toEqual({ deadLetterTargetArn: stack.resolve(consumer.deadLetterQueue.queueArn), maxReceiveCount: 6 });
      for (const deadLetterQueue of [consumer.deadLetterQueue, consumer.ruleDeadLetterQueue!]) {
        expect(propertiesOf(template, stack, deadLetterQueue)).toMatchObject({ MessageRetentionPeriod: FOURTEEN_DAYS_IN_SECONDS });
        expect(propertiesOf(template, stack, deadLetterQueue).FifoQueue).toBeUndefined();
      }
    });

    it('keeps a message invisible for six function timeouts (6 × 20 s)', () => {
      expect(propertiesOf(template, stack, consumer.queue).VisibilityTimeout).toBe(120);
      expect(propertiesOf(template, stack, consumer.function).Timeout).toBe(20);
    });

    it('are all three encrypted with a new key of their own with rotation on, and accept TLS only', () => {
      for (const key of [consumer.key, consumer.queueKey]) {
        expect(propertiesOf(template, stack, key)).toMatchObject({ EnableKeyRotation: true });
        expect(resourceOf(template, stack, key).DeletionPolicy).toBe('Retain');
      }
      for (const queue of queues) {
        expect(propertiesOf(template, stack, queue).KmsMasterKeyId).toEqual(stack.resolve(consumer.queueKey.keyArn));
        expectTlsOnlyPolicy(template, logicalIdOf(stack, queue));
      }
    });
  });

  it('maps the queue to the function with the batch size and concurrency given, reporting partial batch failures', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: stack.resolve(consumer.queue.queueArn),
      FunctionName: stack.resolve(consumer.function.functionName),
      BatchSize: 5,
      ScalingConfig: { MaximumConcurrency: 7 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('encrypts the idempotency table with the same key', () => {
    expect(propertiesOf(template, stack, consumer.idempotencyTable)).toMatchObject({
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: stack.resolve(consumer.key.keyArn) },
    });
  });

  it('raises an alarm with the actions given on each dead-letter queue', () => {
    expectDeadLetterAlarm(template, stack, consumer.deadLetterAlarm, consumer.deadLetterQueue);
    expectDeadLetterAlarm(template, stack, consumer.ruleDeadLetterAlarm!, consumer.ruleDeadLetterQueue!);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 2);
  });

  it("sets every CONSUMER_* variable from the options, merged with the caller's environment", () => {
    expect(propertiesOf(template, stack, consumer.function).Environment.Variables).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'coffee-board',
      BOARD_SIZE: '12',
      [CONSUMER_ENV.idempotencyTableName]: stack.resolve(consumer.idempotencyTable.tableName),
      [CONSUMER_ENV.queueUrl]: stack.resolve(consumer.queue.queueUrl),
      [CONSUMER_ENV.deadLetterQueueUrl]: stack.resolve(consumer.deadLetterQueue.queueUrl),
      [CONSUMER_ENV.maxAttempts]: '4',
      [CONSUMER_ENV.backoffBaseSeconds]: '1',
      [CONSUMER_ENV.backoffMaxSeconds]: '60',
      [CONSUMER_ENV.dedupWindowSeconds]: String(21 * 86_400),
      // The pattern's sources only: an event of another source is poison, however it reached the queue.
      [CONSUMER_ENV.eventSources]: JSON.stringify([SOURCE]),
    });
  });

  describe('IAM', () => {
    it('lets the function do exactly what a consumer needs, on its own resources only', () => {
      // (its own dead-letter queue only: the rule's is EventBridge's)
      expect(permissionsOf(template, stack, consumer.function.role)).toEqual(consumerPermissions(stack, consumer, consumer.key));
    });

    it('allows no action `*` or `service:*` anywhere', () => {
      expect(wildcardAllows(template)).toEqual([]);
    });
  });
});

describe('EventConsumer options', () => {
  it('encrypts the state table with the key given, and the queues EventBridge writes to with a key of their own', () => {
    // Arrange
    const stack = newStack();
    const key = new kms.Key(stack, 'SharedKey', { enableKeyRotation: true });

    // Act
    const consumer = fanoutConsumer(stack, new events.EventBus(stack, 'Bus'), { encryptionKey: key });

    // Assert
    const template = Template.fromStack(stack);
    expect(consumer.key).toBe(key);
    template.resourceCountIs('AWS::KMS::Key', 2);
    for (const queue of [consumer.queue, consumer.deadLetterQueue, consumer.ruleDeadLetterQueue!]) {
      expect(propertiesOf(template, stack, queue).KmsMasterKeyId).toEqual(stack.resolve(consumer.queueKey.keyArn));
    }
    expect(propertiesOf(template, stack, consumer.idempotencyTable).SSESpecification.KMSMasterKeyId).toEqual(stack.resolve(key.keyArn));
  });

  it('destroys the idempotency table and the new key with RemovalPolicy.DESTROY', () => {
    const stack = newStack();

    const consumer = fanoutConsumer(stack, new events.EventBus(stack, 'Bus'), { removalPolicy: RemovalPolicy.DESTROY });

    const template = Template.fromStack(stack);
    expect(resourceOf(template, stack, consumer.idempotencyTable).DeletionPolicy).toBe('Delete');
    expect(resourceOf(template, stack, consumer.key).DeletionPolicy).toBe('Delete');
  });

  it('gives two ordered consumers distinct FIFO queue names of at most 80 characters', () => {
    // Arrange: an id long enough to be truncated.
    const stack = newStack();
    const outbox = newOutbox(stack);

    // Act
    const consumers = [orderedConsumer(stack, outbox, {}, 'Board'), orderedConsumer(stack, outbox, {}, 'X'.repeat(120))];

    // Assert
    const template = Template.fromStack(stack);
    const names = consumers.flatMap((c) => [c.queue, c.deadLetterQueue].map((q) => propertiesOf(template, stack, q).QueueName as string));
    expect(new Set(names).size).toBe(4);
    for (const name of names) expect(name).toMatch(/^[A-Za-z0-9_-]{1,75}\.fifo$/);
  });

  it('accepts the bounds of every numeric option', () => {
    const stack = newStack();
    const outbox = newOutbox(stack);

    expect(() =>
      orderedConsumer(stack, outbox, { maxAttempts: 1, batchSize: 1, maxConcurrency: 1000, timeout: Duration.minutes(15), backoffMax: Duration.hours(12) }, 'Low'),
    ).not.toThrow();
    expect(() => orderedConsumer(stack, outbox, { maxAttempts: 100, batchSize: 10, maxConcurrency: 2 }, 'High')).not.toThrow();
  });
});

describe('EventConsumer validation', () => {
  it('refuses a fan-out pattern that names event types but not the sources it takes', () => {
    const stack = newStack();
    const bus = new events.EventBus(stack, 'Bus');
    expect(() => new EventConsumer(stack, 'Any', { entry: ENTRY, source: { kind: 'fanout', bus, pattern: { detailType: [ORDER_PLACED] } } })).toThrow(/must name the `source`s it takes/);
  });

  it('throws one error that lists every problem', () => {
    // Arrange
    const stack = newStack();
    const bus = new events.EventBus(stack, 'Bus');

    // Act
    const error = thrownBy(
      () =>
        new EventConsumer(stack, 'Bad', {
          entry: ENTRY,
          source: { kind: 'fanout', bus, pattern: { account: ['111111111111'] } },
          maxAttempts: 0,
          maxConcurrency: 1,
          batchSize: 11,
          timeout: Duration.minutes(16),
          environment: { [CONSUMER_ENV.queueUrl]: 'https://example.com' },
        }),
    );

    // Assert
    expect(error).toBeInstanceOf(Error);
    const { message } = error as Error;
    expect(message).toMatch(/^EventConsumer: /);
    expect(message).toMatch(/`maxAttempts` must be an integer from 1 to 100/);
    expect(message).toMatch(/`maxConcurrency` must be an integer from 2 to 1000/);
    expect(message).toMatch(/`batchSize` must be an integer from 1 to 10/);
    expect(message).toMatch(/`timeout` must be at most 15 minutes/);
    expect(message).toMatch(/fan-out `pattern` must name the `source`s it takes/);
    expect(message).toMatch(new RegExp(`\`environment\` must not set ${CONSUMER_ENV.queueUrl}`));
    expect(message.split('; ')).toHaveLength(6);
  });

  it('refuses backoff and expiry values the consumer runtime would refuse at cold start', () => {
    const stack = newStack();

    const error = thrownBy(() =>
      orderedConsumer(stack, newOutbox(stack), {
        maxConcurrency: 1001,
        backoffBase: Duration.minutes(10),
        backoffMax: Duration.hours(13),
        timeout: Duration.millis(1500),
      }),
    );

    const { message } = error as Error;
    expect(message).toMatch(/`maxConcurrency` must be an integer from 2 to 1000/);
    expect(message).toMatch(/`backoffMax` must be from 1 second to 12 hours/);
    expect(message).toMatch(/`timeout` must be whole seconds/);
    expect(message.split('; ')).toHaveLength(3);
  });

  it('refuses a backoff base longer than the backoff maximum', () => {
    const stack = newStack();

    expect(() => orderedConsumer(stack, newOutbox(stack), { backoffBase: Duration.minutes(6) })).toThrow(
      /`backoffBase` must not be longer than `backoffMax`/,
    );
  });
});

describe.each([
  ['one consumer of each mode', {}],
  ['one consumer of each mode, each with a circuit breaker', { circuitBreaker: {} }],
] satisfies [string, Partial<EventConsumerProps>][])('cdk-nag AwsSolutions checks on a stack with %s', (_variant, options) => {
  itPassesNagChecks((app) => {
    const stack = new Stack(app, 'Consumers');
    const outbox = newOutbox(stack);
    orderedConsumer(stack, outbox, { alarmActions: [onCall], ...options });
    fanoutConsumer(stack, outbox.bus, { alarmActions: [onCall], ...options });
  });
});

describe('EventConsumer dedup window: no dedup record expires while its message can still come back', () => {
  const windowOf = (consumer: EventConsumer) => {
    const stack = Stack.of(consumer);
    return propertiesOf(Template.fromStack(stack), stack, consumer.function).Environment.Variables[CONSUMER_ENV.dedupWindowSeconds];
  };
  const DAY = 86_400;

  it('defaults to upstream redelivery + queue retention + dead-letter retention + redrive allowance (1 + 4 + 14 + 1 days) for a fan-out consumer', () => {
    const stack = newStack();
    const consumer = fanoutConsumer(stack, new events.EventBus(stack, 'Bus'));
    expect(windowOf(consumer)).toBe(String(20 * DAY));
    expect(propertiesOf(Template.fromStack(stack), stack, consumer.queue).MessageRetentionPeriod).toBe(4 * DAY);
  });

  it('defaults to the log’s retention when the consumer can be replayed from a log kept longer', () => {
    const stack = newStack();
    const outbox = new TransactionalOutbox(stack, 'Outbox', { source: SOURCE, retention: Duration.days(90) });
    expect(windowOf(orderedConsumer(stack, outbox))).toBe(String(90 * DAY));
  });

  it('remembers message ids for good when its log keeps events for good (an ordered source, or a replay log)', () => {
    const stack = newStack();
    const forever = new TransactionalOutbox(stack, 'Forever', { source: 'wallet.accounts', keepEventsForever: true });
    const ordered = orderedConsumer(stack, forever);
    const replaying = fanoutConsumer(stack, new events.EventBus(stack, 'Bus'), { replayLogs: [forever] });
    expect([ordered.dedupWindow, windowOf(ordered)]).toEqual(['forever', 'forever']);
    expect(windowOf(replaying)).toBe('forever');
  });

  it('refuses a window shorter than the time a message can come back, saying why', () => {
    const stack = newStack();
    const message = (thrownBy(() => fanoutConsumer(stack, new events.EventBus(stack, 'Bus'), { dedupWindow: Duration.hours(48) })) as Error).message;
    expect(message).toMatch(/`dedupWindow` \(2 days\) is shorter than the time a message can come back \(20 days: upstream redelivery 1 day \+ queue retention 4 days \+ dead-letter retention 14 days \+ redrive allowance 1 day = 20 days\)/);
  });

  it('refuses a window shorter than a replayable log’s retention, and any window at all on a log kept for good', () => {
    const stack = newStack();
    const month = newOutbox(stack);
    const forever = new TransactionalOutbox(stack, 'Forever', { source: 'wallet.accounts', keepEventsForever: true });
    expect((thrownBy(() => orderedConsumer(stack, month, { dedupWindow: Duration.days(21) })) as Error).message).toMatch(/the log coffee\.orders keeps its events 30 days/);
    expect((thrownBy(() => orderedConsumer(stack, forever, { dedupWindow: Duration.days(3650) }, 'Other')) as Error).message).toMatch(/\(forever: the log wallet\.accounts keeps its events for good/);
  });

  it('accepts a window at least that long, and `forever` anywhere', () => {
    const stack = newStack();
    const month = newOutbox(stack);
    const longer = orderedConsumer(stack, month, { dedupWindow: Duration.days(31) });
    const forever = orderedConsumer(stack, month, { dedupWindow: 'forever' }, 'Other');
    expect([windowOf(longer), windowOf(forever)]).toEqual([String(31 * DAY), 'forever']);
  });
});

describe('EventConsumer with a circuit breaker', () => {
  let stack: Stack;
  let consumer: EventConsumer;
  let template: Template;
  let breaker: ConsumerCircuitBreaker;
  const anyMappingOfThisAccount = 'arn:{{Ref:AWS::Partition}}:lambda:{{Ref:AWS::Region}}:{{Ref:AWS::AccountId}}:event-source-mapping:*';

  /** The statement that lets a role switch the consumer's mapping, and no other function's. */
  const switchConsumerMapping = () => [
    ...allow(['lambda:ListEventSourceMappings'], '*'),
    {
      effect: 'Allow' as const,
      action: 'lambda:UpdateEventSourceMapping',
      resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':lambda:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':event-source-mapping:*']] },
      condition: { StringEquals: { 'lambda:FunctionArn': stack.resolve(consumer.function.functionArn) } },
    },
  ];

  beforeAll(() => {
    // Arrange
    stack = newStack();
    const outbox = newOutbox(stack);
    // Act
    consumer = orderedConsumer(stack, outbox, { circuitBreaker: { failureThreshold: 3, window: Duration.seconds(30), coolDown: Duration.minutes(2) } });
    template = Template.fromStack(stack);
    breaker = consumer.circuitBreaker!;
  });

  it('gives the consumer its queue ARN and the thresholds, besides every CONSUMER_* variable', () => {
    expect(propertiesOf(template, stack, consumer.function).Environment.Variables).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'Ordered',
      [CONSUMER_ENV.idempotencyTableName]: stack.resolve(consumer.idempotencyTable.tableName),
      [CONSUMER_ENV.queueUrl]: stack.resolve(consumer.queue.queueUrl),
      [CONSUMER_ENV.deadLetterQueueUrl]: stack.resolve(consumer.deadLetterQueue.queueUrl),
      [CONSUMER_ENV.maxAttempts]: '5',
      [CONSUMER_ENV.backoffBaseSeconds]: '2',
      [CONSUMER_ENV.backoffMaxSeconds]: '300',
      // The outbox keeps its log 30 days and can replay it: longer than the 20 days a redelivery may take.
      [CONSUMER_ENV.dedupWindowSeconds]: String(30 * 86_400),
      [CONSUMER_ENV.eventSources]: JSON.stringify([SOURCE]),
      [CIRCUIT_ENV.queueArn]: stack.resolve(consumer.queue.queueArn),
      [CIRCUIT_ENV.failureThreshold]: '3',
      [CIRCUIT_ENV.windowSeconds]: '30',
      [CIRCUIT_ENV.coolDownSeconds]: '120',
    });
  });

  // In a policy of its own: in the role's default policy, on which the function depends, its ARN would
  // make a dependency cycle (Template.fromStack, in beforeAll, refuses a template with one).
  it('lets the consumer find its mappings and disable or enable them, only its own (lambda:FunctionArn)', () => {
    const permissions = permissionsOf(template, stack, consumer.function.role);
    const forMappings = permissions.filter((p) => p.action.startsWith('lambda:'));

    expect(forMappings).toEqual(permissionSet(switchConsumerMapping()));
    expect(renderIntrinsic(forMappings.find((p) => p.action === 'lambda:UpdateEventSourceMapping')!.resource)).toBe(anyMappingOfThisAccount);
    // Everything else is what a consumer without a circuit breaker has.
    expect(permissions.filter((p) => !p.action.startsWith('lambda:')).map((p) => p.action).sort()).toEqual(
      ['dynamodb:BatchGetItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'logs:CreateLogStream', 'logs:PutLogEvents', 'sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage', 'sqs:SendMessage'],
    );
    expect(resourceOf(template, stack, breaker.consumerPolicy)).toMatchObject({ Properties: { Roles: [{ Ref: logicalIdOf(stack, consumer.function.role!) }] } });
  });

  it("runs a closer every minute that can read and write the circuits and switch the consumer's mapping, nothing more", () => {
    const closer = breaker.closerFunction;

    expect(propertiesOf(template, stack, closer).Environment.Variables).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'Ordered-circuit-closer',
      [CIRCUIT_CLOSER_ENV.tableName]: stack.resolve(consumer.idempotencyTable.tableName),
      [CIRCUIT_CLOSER_ENV.queueArn]: stack.resolve(consumer.queue.queueArn),
      [CIRCUIT_CLOSER_ENV.consumerFunctionName]: stack.resolve(consumer.function.functionName),
    });
    expect(permissionsOf(template, stack, closer.role)).toEqual(
      permissionSet(
        allow(['logs:CreateLogStream', 'logs:PutLogEvents'], stack.resolve(closer.logGroup.logGroupArn)),
        allow(['dynamodb:GetItem', 'dynamodb:UpdateItem'], stack.resolve(consumer.idempotencyTable.tableArn)),
        allow(['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'], stack.resolve(consumer.key.keyArn)),
        switchConsumerMapping(),
      ),
    );
    expect(propertiesOf(template, stack, breaker.closerSchedule)).toMatchObject({
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [{ Arn: stack.resolve(closer.functionArn), RetryPolicy: { MaximumRetryAttempts: 0 } }],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: stack.resolve(closer.functionArn),
      Principal: 'events.amazonaws.com',
      SourceArn: stack.resolve(breaker.closerSchedule.ruleArn),
    });
  });

  it('allows no action `*` or `service:*` anywhere', () => {
    expect(wildcardAllows(template)).toEqual([]);
  });

  it('defaults to 5 failures a minute and a one-minute cool-down', () => {
    const other = newStack();
    const withDefaults = orderedConsumer(other, newOutbox(other), { circuitBreaker: {} });

    const variables = propertiesOf(Template.fromStack(other), other, withDefaults.function).Environment.Variables;
    expect(variables).toMatchObject({ [CIRCUIT_ENV.failureThreshold]: '5', [CIRCUIT_ENV.windowSeconds]: '60', [CIRCUIT_ENV.coolDownSeconds]: '60' });
  });

  it('is absent without `circuitBreaker`: no closer, no schedule, no Lambda permissions', () => {
    const other = newStack();
    const plain = orderedConsumer(other, newOutbox(other));

    const otherTemplate = Template.fromStack(other);
    expect(plain.circuitBreaker).toBeUndefined();
    otherTemplate.resourceCountIs('AWS::Events::Rule', 0);
    expect(permissionsOf(otherTemplate, other, plain.function.role).filter((p) => p.action.startsWith('lambda:'))).toEqual([]);
  });

  it('refuses thresholds the runtime would refuse, and the variables it sets, in its one error', () => {
    const other = newStack();

    const error = thrownBy(() =>
      orderedConsumer(other, newOutbox(other), {
        circuitBreaker: { failureThreshold: 0, window: Duration.millis(1500), coolDown: Duration.hours(13) },
        environment: { [CIRCUIT_ENV.queueArn]: 'arn:aws:sqs:us-east-1:111111111111:other' },
      }),
    );

    const { message } = error as Error;
    expect(message).toMatch(/`circuitBreaker.failureThreshold` must be an integer from 1 to 1000/);
    expect(message).toMatch(/`circuitBreaker.window` must be whole seconds from 1 second to 1 day/);
    expect(message).toMatch(/`circuitBreaker.coolDown` must be whole seconds from 1 second to 12 hours/);
    expect(message).toMatch(new RegExp(`\`environment\` must not set ${CIRCUIT_ENV.queueArn}`));
    expect(message.split('; ')).toHaveLength(4);
  });
});

describe('EventConsumer with replayLogs (a projection that catches up from event logs)', () => {
  let stack: Stack;
  let orders: TransactionalOutbox;
  let barista: TransactionalOutbox;
  let consumer: EventConsumer;
  let template: Template;

  beforeAll(() => {
    // Arrange
    stack = newStack();
    orders = newOutbox(stack);
    barista = new TransactionalOutbox(stack, 'Barista', { source: 'coffee.barista' });
    // Act
    consumer = fanoutConsumer(stack, orders.bus, { replayLogs: [orders, barista] });
    template = Template.fromStack(stack);
  });

  it('may Query exactly those tables and decrypt with their keys, besides what every consumer may do', () => {
    expect(permissionsOf(template, stack, consumer.function.role)).toEqual(
      permissionSet(
        consumerPermissions(stack, consumer, consumer.key),
        allow(['dynamodb:Query'], [stack.resolve(orders.table.tableArn), stack.resolve(barista.table.tableArn)]),
        allow(['kms:Decrypt'], [stack.resolve(orders.key.keyArn), stack.resolve(barista.key.keyArn)]),
      ),
    );
  });

  it('tells the function which table holds the log of which source', () => {
    const variables = propertiesOf(template, stack, consumer.function).Environment.Variables;

    expect(JSON.parse(renderIntrinsic(variables[PROJECTION_ENV.logs]))).toEqual({
      'coffee.orders': renderIntrinsic(stack.resolve(orders.table.tableName)),
      'coffee.barista': renderIntrinsic(stack.resolve(barista.table.tableName)),
    });
  });

  it('sets nothing without replayLogs', () => {
    const other = newStack();
    const plain = fanoutConsumer(other, newOutbox(other).bus);
    const variables = propertiesOf(Template.fromStack(other), other, plain.function).Environment.Variables;
    expect(variables).not.toHaveProperty(PROJECTION_ENV.logs);
  });

  it('refuses two outboxes of one source, and PROJECTION_LOGS in `environment`, in its one error', () => {
    const other = newStack();
    const first = newOutbox(other);
    const second = new TransactionalOutbox(other, 'Again', { source: SOURCE });

    const error = thrownBy(() => fanoutConsumer(other, first.bus, { replayLogs: [first, second], environment: { [PROJECTION_ENV.logs]: '{}' } }));

    const { message } = error as Error;
    expect(message).toMatch(new RegExp(`\`replayLogs\` has more than one outbox of source ${SOURCE.replace('.', '\\.')}`));
    expect(message).toMatch(new RegExp(`\`environment\` must not set ${PROJECTION_ENV.logs}`));
  });

  describe('cdk-nag AwsSolutions checks', () => {
    itPassesNagChecks((app) => {
      const nagged = new Stack(app, 'Projection');
      const outbox = newOutbox(nagged);
      fanoutConsumer(nagged, outbox.bus, { alarmActions: [onCall], replayLogs: [outbox] });
    });
  });
});
