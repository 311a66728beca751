import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Duration, Stack, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { OUTBOX_ENV } from '../../functions/toolkit/outbox/outboxConfig';
import { OUTBOX } from '../../functions/toolkit/outbox/outboxItem';
import { CURSOR } from '../../functions/toolkit/relay/cursorItem';
import { RELAY_ENV } from '../../functions/toolkit/relay/relayConfig';
import { TransactionalOutbox, type TransactionalOutboxProps } from '../../lib/constructs/TransactionalOutbox';
import { expectTlsOnlyPolicy } from './support/expectTlsOnlyPolicy';
import { allow, permissionSet, permissionsOf, putEventsAs, wildcardAllows } from './support/iamPermissions';
import { projectApp, SKIP_BUNDLING } from './support/projectApp';
import { renderIntrinsic } from './support/renderIntrinsic';

const SOURCE = 'coffee.orders';
const THIRTY_DAYS_IN_SECONDS = 30 * 24 * 60 * 60;

/** A stack of its own per scenario. These tests read the template only, so nothing is bundled. */
function newStack(): Stack {
  return new Stack(projectApp({ context: SKIP_BUNDLING }), 'Test');
}

function newOutbox(stack: Stack, props: Partial<TransactionalOutboxProps> = {}): TransactionalOutbox {
  return new TransactionalOutbox(stack, 'Outbox', { source: SOURCE, ...props });
}

/** A writer with no grants of its own, so that everything on its role comes from `grantCommit`. */
function newWriter(stack: Stack): lambda.Function {
  return new lambda.Function(stack, 'Writer', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => undefined;'),
  });
}

function logicalIdOf(stack: Stack, construct: IConstruct): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnElement);
}

/** The synthesized properties of the resource behind `construct`. */
function propertiesOf(template: Template, stack: Stack, construct: IConstruct): Record<string, any> {
  const resource = template.toJSON().Resources[logicalIdOf(stack, construct)];
  if (!resource) throw new Error(`${construct.node.path} is not in the template`);
  return resource.Properties ?? {};
}

function onlyResourceOfType(template: Template, type: string): Record<string, any> {
  const found = Object.values(template.findResources(type));
  expect(found, `resources of type ${type}`).toHaveLength(1);
  return found[0]!.Properties;
}

describe('TransactionalOutbox with its defaults', () => {
  let stack: Stack;
  let outbox: TransactionalOutbox;
  let subscribers: sqs.Queue[];
  let subscriberKey: kms.Key;
  let writer: lambda.Function;
  let template: Template;

  beforeAll(() => {
    // Arrange: two ordered subscribers (one encrypted with a key of its own) and a writer.
    stack = newStack();
    outbox = newOutbox(stack);
    subscriberKey = new kms.Key(stack, 'SubscriberKey', { enableKeyRotation: true });
    subscribers = [
      new sqs.Queue(stack, 'FirstSubscriber', { fifo: true, encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: subscriberKey }),
      new sqs.Queue(stack, 'SecondSubscriber', { fifo: true }),
    ];
    // Act
    for (const queue of subscribers) outbox.addOrderedSubscriber(queue);
    writer = newWriter(stack);
    outbox.grantCommit(writer);
    template = Template.fromStack(stack);
  });

  describe('table', () => {
    it('has string keys pk/sk, a stream of new images, TTL on the outbox attribute and point-in-time recovery', () => {
      template.resourceCountIs('AWS::DynamoDB::Table', 2); // the outbox and the relay's cursors
      expect(propertiesOf(template, stack, outbox.table)).toMatchObject({
        KeySchema: [
          { AttributeName: OUTBOX.partitionKey, KeyType: 'HASH' },
          { AttributeName: OUTBOX.sortKey, KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: OUTBOX.partitionKey, AttributeType: 'S' },
          { AttributeName: OUTBOX.sortKey, AttributeType: 'S' },
        ],
        StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
        TimeToLiveSpecification: { AttributeName: OUTBOX.ttlAttribute, Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      });
    });

    it('is encrypted with the outbox key, a customer-managed KMS key with rotation on', () => {
      expect(propertiesOf(template, stack, outbox.table)).toMatchObject({
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: stack.resolve(outbox.key.keyArn) },
      });
      expect(propertiesOf(template, stack, outbox.key)).toMatchObject({ EnableKeyRotation: true });
    });
  });

  describe('relay cursor table', () => {
    it('has string keys pk (partition key) and sk (subject), no stream, TTL, point-in-time recovery and the outbox key', () => {
      const cursors = propertiesOf(template, stack, outbox.cursorTable);

      expect(cursors).toMatchObject({
        KeySchema: [
          { AttributeName: CURSOR.partitionKey, KeyType: 'HASH' },
          { AttributeName: CURSOR.sortKey, KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: CURSOR.partitionKey, AttributeType: 'S' },
          { AttributeName: CURSOR.sortKey, AttributeType: 'S' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: CURSOR.ttlAttribute, Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: stack.resolve(outbox.key.keyArn) },
      });
      expect(cursors.StreamSpecification).toBeUndefined();
    });

    it('is kept on stack deletion like the outbox table, by default', () => {
      const resource = template.toJSON().Resources[logicalIdOf(stack, outbox.cursorTable)];
      expect(resource).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    });
  });

  describe('event-source mapping', () => {
    it('feeds the relay from the table stream, oldest record first, one batch per shard at a time', () => {
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: stack.resolve(outbox.table.tableStreamArn),
        FunctionName: stack.resolve(outbox.relayFunction.functionName),
        StartingPosition: 'TRIM_HORIZON',
        ParallelizationFactor: 1,
      });
    });

    it('passes outbox INSERTs only', () => {
      const mapping = onlyResourceOfType(template, 'AWS::Lambda::EventSourceMapping');
      const patterns = mapping.FilterCriteria.Filters.map((filter: { Pattern: string }) => JSON.parse(filter.Pattern));

      expect(patterns).toEqual([
        { eventName: ['INSERT'], dynamodb: { NewImage: { [OUTBOX.kindAttribute]: { S: [OUTBOX.kindValue] } } } },
      ]);
    });

    it('bisects failed batches, reports item failures, retries 10 times, then sends to the dead-letter queue', () => {
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        BisectBatchOnFunctionError: true,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        MaximumRetryAttempts: 10,
        DestinationConfig: { OnFailure: { Destination: stack.resolve(outbox.deadLetterQueue.queueArn) } },
      });
    });
  });

  describe('relay function', () => {
    it('runs on nodejs22.x with the bus, the dead-letter queue, the outbox and cursor tables and every ordered subscriber in its environment', () => {
      const relay = propertiesOf(template, stack, outbox.relayFunction);
      const variables = relay.Environment.Variables;

      expect(relay.Runtime).toBe('nodejs22.x');
      expect(variables).toMatchObject({
        [RELAY_ENV.eventBusName]: stack.resolve(outbox.bus.eventBusName),
        [RELAY_ENV.deadLetterQueueUrl]: stack.resolve(outbox.deadLetterQueue.queueUrl),
        [RELAY_ENV.outboxTableName]: stack.resolve(outbox.table.tableName),
        [RELAY_ENV.cursorTableName]: stack.resolve(outbox.cursorTable.tableName),
      });
      // A JSON list that CloudFormation assembles from the queues' URLs.
      expect(JSON.parse(renderIntrinsic(variables[RELAY_ENV.orderedQueueUrls]))).toEqual(
        subscribers.map((queue) => renderIntrinsic(stack.resolve(queue.queueUrl))),
      );
    });
  });

  describe('dead-letter queue', () => {
    it('is encrypted with the outbox key and accepts TLS only', () => {
      expect(propertiesOf(template, stack, outbox.deadLetterQueue)).toMatchObject({ KmsMasterKeyId: stack.resolve(outbox.key.keyArn) });
      expectTlsOnlyPolicy(template, logicalIdOf(stack, outbox.deadLetterQueue));
    });

    it('raises an alarm as soon as it holds a message', () => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: stack.resolve(outbox.deadLetterQueue.queueName) }],
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
      });
    });
  });

  describe('IAM', () => {
    it('lets the relay do exactly what it needs, on the outbox resources and subscriber queues only', () => {
      const key = stack.resolve(outbox.key.keyArn);
      const stream = stack.resolve(outbox.table.tableStreamArn);
      const deadLetterQueue = stack.resolve(outbox.deadLetterQueue.queueArn);

      expect(permissionsOf(template, stack, outbox.relayFunction.role)).toEqual(
        permissionSet(
          allow(['logs:CreateLogStream', 'logs:PutLogEvents'], stack.resolve(outbox.relayFunction.logGroup.logGroupArn)),
          // Read the stream: on the stream ARN, not the table's.
          allow(['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'], stream),
          // No resource-level permissions exist for ListStreams (acknowledged for cdk-nag in the construct).
          allow(['dynamodb:ListStreams'], '*'),
          // Decrypt the stream and the outbox's items, send to the encrypted dead-letter queue and
          // subscriber, read and write the cursor table (encrypted with the outbox key).
          allow(['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'], key),
          allow(['kms:Decrypt', 'kms:GenerateDataKey'], stack.resolve(subscriberKey.keyArn)),
          allow(['sqs:SendMessage'], [deadLetterQueue, ...subscribers.map((queue) => stack.resolve(queue.queueArn))]),
          // Put events on its bus, only with its own service's source: a relay cannot pass off another's events.
          putEventsAs(outbox.source, stack.resolve(outbox.bus.eventBusArn)),
          // Ordering: Query a stream's missing events from the outbox (read only, on the table, no index),
          // and the cursors, on the cursor table only.
          allow(['dynamodb:Query'], stack.resolve(outbox.table.tableArn)),
          allow(['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'], stack.resolve(outbox.cursorTable.tableArn)),
        ),
      );
    });

    it('allows no action `*` or `service:*` anywhere', () => {
      expect(wildcardAllows(template)).toEqual([]);
    });

    it('grantCommit lets the writer put items on the table and use the key, nothing else', () => {
      expect(permissionsOf(template, stack, writer.role)).toEqual(
        permissionSet(
          allow(['dynamodb:PutItem'], stack.resolve(outbox.table.tableArn)),
          allow(['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'], stack.resolve(outbox.key.keyArn)),
        ),
      );
    });

    it('grantCommit sets the writer environment: table, source and a retention of 30 days', () => {
      expect(propertiesOf(template, stack, writer).Environment.Variables).toEqual({
        [OUTBOX_ENV.tableName]: stack.resolve(outbox.table.tableName),
        [OUTBOX_ENV.source]: SOURCE,
        [OUTBOX_ENV.retentionSeconds]: String(THIRTY_DAYS_IN_SECONDS),
      });
    });
  });
});

describe('TransactionalOutbox options', () => {
  it('retries a failed batch as often as relay.retryAttempts says', () => {
    const stack = newStack();
    newOutbox(stack, { relay: { retryAttempts: 3 } });

    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::EventSourceMapping', { MaximumRetryAttempts: 3 });
  });

  it('gives writers no retention, and the tables no TTL, when events are kept forever', () => {
    const stack = newStack();
    const outbox = newOutbox(stack, { keepEventsForever: true });
    const writer = newWriter(stack);

    outbox.grantCommit(writer);

    const template = Template.fromStack(stack);
    expect(propertiesOf(template, stack, outbox.table).TimeToLiveSpecification).toBeUndefined();
    expect(propertiesOf(template, stack, outbox.cursorTable).TimeToLiveSpecification).toBeUndefined();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Environment: {
        Variables: {
          [OUTBOX_ENV.tableName]: stack.resolve(outbox.table.tableName),
          [OUTBOX_ENV.source]: SOURCE,
          [OUTBOX_ENV.retentionSeconds]: Match.absent(),
        },
      },
    });
  });

  it('uses an existing table and an existing bus instead of creating them', () => {
    const stack = newStack();
    const table = new dynamodb.Table(stack, 'ServiceTable', {
      partitionKey: { name: OUTBOX.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: OUTBOX.sortKey, type: dynamodb.AttributeType.STRING },
      stream: dynamodb.StreamViewType.NEW_IMAGE,
    });
    const bus = events.EventBus.fromEventBusName(stack, 'SharedBus', 'shared');

    const outbox = newOutbox(stack, { table, eventBus: bus });

    const template = Template.fromStack(stack);
    expect(outbox.table).toBe(table);
    expect(outbox.bus).toBe(bus);
    template.resourceCountIs('AWS::DynamoDB::Table', 2); // the service table and the relay's cursors
    template.resourceCountIs('AWS::Events::EventBus', 0);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: stack.resolve(table.tableStreamArn) });
    expect(propertiesOf(template, stack, outbox.relayFunction).Environment.Variables[RELAY_ENV.eventBusName]).toBe('shared');
    expect(permissionsOf(template, stack, outbox.relayFunction.role)).toEqual(
      expect.arrayContaining([
        ...putEventsAs(outbox.source, stack.resolve(bus.eventBusArn)),
        ...allow(['dynamodb:GetRecords'], stack.resolve(table.tableStreamArn)),
      ]),
    );
  });

  it('lets the relay and writers use the key of an existing table encrypted with a key of its own', () => {
    const stack = newStack();
    const tableKey = new kms.Key(stack, 'TableKey', { enableKeyRotation: true });
    const table = new dynamodb.Table(stack, 'ServiceTable', {
      partitionKey: { name: OUTBOX.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: OUTBOX.sortKey, type: dynamodb.AttributeType.STRING },
      stream: dynamodb.StreamViewType.NEW_IMAGE,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: tableKey,
    });
    const outbox = newOutbox(stack, { table });
    const writer = newWriter(stack);

    outbox.grantCommit(writer);

    const template = Template.fromStack(stack);
    // Reading a stream, or querying a table, encrypted with a customer-managed key takes kms:Decrypt on that key.
    expect(permissionsOf(template, stack, outbox.relayFunction.role)).toEqual(
      expect.arrayContaining([...allow(['kms:Decrypt'], stack.resolve(tableKey.keyArn)), ...allow(['dynamodb:Query'], stack.resolve(table.tableArn))]),
    );
    expect(permissionsOf(template, stack, writer.role)).toEqual(
      permissionSet(
        allow(['dynamodb:PutItem'], stack.resolve(table.tableArn)),
        allow(['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'], stack.resolve(tableKey.keyArn)),
      ),
    );
  });
});

describe('TransactionalOutbox validation', () => {
  it('throws one error that lists every conflict', () => {
    const stack = newStack();
    const table = new dynamodb.Table(stack, 'ServiceTable', {
      partitionKey: { name: OUTBOX.partitionKey, type: dynamodb.AttributeType.STRING },
      stream: dynamodb.StreamViewType.NEW_IMAGE,
    });
    const bus = new events.EventBus(stack, 'SharedBus');

    let error: unknown;
    try {
      newOutbox(stack, {
        source: 'Coffee Orders',
        table,
        tableProps: { billingMode: dynamodb.BillingMode.PAY_PER_REQUEST },
        eventBus: bus,
        eventBusName: 'coffee',
      });
    } catch (thrown) {
      error = thrown;
    }

    expect(error).toBeInstanceOf(Error);
    const { message } = error as Error;
    expect(message).toMatch(/`table` or `tableProps`/);
    expect(message).toMatch(/`eventBus` or `eventBusName`/);
    expect(message).toMatch(/`source` must look like/);
  });

  it('refuses an ordered subscriber whose queue is not FIFO', () => {
    const stack = newStack();
    const outbox = newOutbox(stack);
    const standardQueue = new sqs.Queue(stack, 'StandardQueue');

    expect(() => outbox.addOrderedSubscriber(standardQueue)).toThrow(/not a FIFO queue/);
  });
});

describe('TransactionalOutbox alarm actions', () => {
  it('sends both alarms (dead-letter queue, stream lag) to the actions given', () => {
    // arrange
    const stack = newStack();
    const action: cloudwatch.IAlarmAction = { bind: () => ({ alarmActionArn: 'arn:aws:sns:us-east-1:111111111111:on-call' }) };

    // act
    const outbox = newOutbox(stack, { alarmActions: [action] });
    const template = Template.fromStack(stack);

    // assert
    for (const alarm of [outbox.deadLetterAlarm, outbox.iteratorAgeAlarm]) {
      expect(propertiesOf(template, stack, alarm).AlarmActions).toEqual(['arn:aws:sns:us-east-1:111111111111:on-call']);
    }
  });
});

describe('TransactionalOutbox relay.entry (a service relay that publishes old versions side by side)', () => {
  const DUAL_RELAY = 'test/fixtures/relay/dualPublishingRelay.ts';

  it('runs the service relay file with the same environment and permissions as the generic relay, and names it', () => {
    // arrange
    const genericStack = newStack();
    const generic = newOutbox(genericStack);
    const dualStack = newStack();

    // act
    const dual = newOutbox(dualStack, { relay: { entry: DUAL_RELAY } });

    // assert
    const dualTemplate = Template.fromStack(dualStack);
    const relay = propertiesOf(dualTemplate, dualStack, dual.relayFunction);
    expect(relay.Description).toContain(`(handler ${DUAL_RELAY})`);
    expect(propertiesOf(Template.fromStack(genericStack), genericStack, generic.relayFunction).Description).not.toContain('handler');
    expect(Object.keys(relay.Environment.Variables).sort()).toEqual(
      Object.keys(propertiesOf(Template.fromStack(genericStack), genericStack, generic.relayFunction).Environment.Variables).sort(),
    );
    expect(permissionsOf(dualTemplate, dualStack, dual.relayFunction.role)).toEqual(
      permissionSet(
        allow(['logs:CreateLogStream', 'logs:PutLogEvents'], dualStack.resolve(dual.relayFunction.logGroup.logGroupArn)),
        allow(['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'], dualStack.resolve(dual.table.tableStreamArn)),
        allow(['dynamodb:ListStreams'], '*'),
        allow(['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'], dualStack.resolve(dual.key.keyArn)),
        allow(['sqs:SendMessage'], dualStack.resolve(dual.deadLetterQueue.queueArn)),
        putEventsAs(dual.source, dualStack.resolve(dual.bus.eventBusArn)),
        allow(['dynamodb:Query'], dualStack.resolve(dual.table.tableArn)),
        allow(['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'], dualStack.resolve(dual.cursorTable.tableArn)),
      ),
    );
  });

  it('bundles the service relay file: its bundle carries the downcaster, the generic one does not', () => {
    // arrange: bundled for real (local esbuild)
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'dual-relay-'));
    try {
      const app = projectApp({ outdir });
      const dual = newOutbox(new Stack(app, 'Dual'), { relay: { entry: DUAL_RELAY } });
      const generic = newOutbox(new Stack(app, 'Generic'));

      // act
      app.synth();

      // assert
      const bundleOf = (fn: lambda.IFunction): string => {
        const template = Template.fromStack(Stack.of(fn));
        const key: string = propertiesOf(template, Stack.of(fn), fn).Code.S3Key;
        return fs.readFileSync(path.join(outdir, `asset.${key.replace(/\.zip$/, '')}`, 'index.js'), 'utf8');
      };
      expect(bundleOf(dual.relayFunction)).toContain('wallet.transaction.added');
      expect(bundleOf(generic.relayFunction)).not.toContain('wallet.transaction.added');
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  }, 120_000);

  it('refuses an entry that is not an existing .ts file under the repository root, in its one error', () => {
    expect(() => newOutbox(newStack(), { relay: { entry: 'functions/wallet/noSuchRelay.ts' } })).toThrow(/`relay.entry` must name an existing \.ts handler file.*noSuchRelay/);
    expect(() => newOutbox(newStack(), { relay: { entry: '/etc/passwd' } })).toThrow(/`relay.entry`/);
  });
});
