import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, Lazy, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { OUTBOX } from '../../functions/toolkit/outbox/outboxItem';
import { OUTBOX_ENV } from '../../functions/toolkit/outbox/outboxConfig';
import { CURSOR } from '../../functions/toolkit/relay/cursorItem';
import { RELAY_ENV } from '../../functions/toolkit/relay/relayConfig';
import { deadLetterQueueAlarm } from './alarms';
import { grantSendMessage } from './grants';
import { newDeadLetterQueue } from './deadLetterQueue';
import { streamMapping } from './streamMapping';
import { PROJECT_ROOT, ToolkitFunction } from './ToolkitFunction';

export interface RelayOptions {
  /** Stream records per invocation. @default 100 */
  readonly batchSize?: number;
  /** How long the mapping may wait to fill a batch. @default no wait */
  readonly maxBatchingWindow?: Duration;
  /** Times the mapping retries a failed batch before it goes to the dead-letter queue. @default 10 */
  readonly retryAttempts?: number;
  /** Attempts per entry inside one invocation (backoff with jitter between them). @default 5 */
  readonly maxAttemptsPerEntry?: number;
  /** @default Duration.minutes(1) */
  readonly timeout?: Duration;
  /**
   * The relay's handler file, relative to the repository root, for a service whose relay publishes
   * more than what it committed — e.g. an older version of an event side by side with the new one
   * during a schema migration (only the bus gets the copy; ordered subscribers get each event once):
   * `export const handler = relayHandler({ alsoPublish: registry.downcasts(['wallet.transaction.added']) })`.
   * @default 'functions/toolkit/relay/handler.ts' (the generic relay)
   */
  readonly entry?: string;
}

/** The generic relay's handler file. */
export const DEFAULT_RELAY_ENTRY = 'functions/toolkit/relay/handler.ts';

export interface TransactionalOutboxProps {
  /** CloudEvents `source` of the events this service commits (EventBridge `Source`), e.g. `coffee.orders`. */
  readonly source: string;
  /**
   * An existing table to use: string keys `pk` and `sk`, a stream with new images. Not with `tableProps`.
   * @default a new table
   */
  readonly table?: dynamodb.Table;
  /** Props merged into the new table's (defaults, then these, then what the outbox requires). Not with `table`. */
  readonly tableProps?: Partial<dynamodb.TableProps>;
  /** An existing bus to publish to. Not with `eventBusName`. @default a new bus */
  readonly eventBus?: events.IEventBus;
  /** Name of the new bus. Not with `eventBus`. @default generated */
  readonly eventBusName?: string;
  /** The key that encrypts the table and the dead-letter queue. @default a new key with rotation on */
  readonly encryptionKey?: kms.IKey;
  /** How long outbox items are kept (DynamoDB TTL). Not with `keepEventsForever`. @default Duration.days(30) */
  readonly retention?: Duration;
  /** Keep outbox items for good (event-sourced services). Not with `retention`. @default false */
  readonly keepEventsForever?: boolean;
  readonly relay?: RelayOptions;
  /** What the alarms do (e.g. an SNS topic action). @default none: the alarms are still created */
  readonly alarmActions?: cloudwatch.IAlarmAction[];
  /** Of the table, the relay's cursor table and the key. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Transactional outbox with an ordered relay: a service table whose stream feeds a relay that
 * publishes each committed event to an EventBridge bus and to every ordered subscriber's FIFO queue,
 * in per-key order, with retries, a dead-letter queue and alarms.
 */
export class TransactionalOutbox extends Construct {
  public readonly table: dynamodb.Table;
  /**
   * The relay's cursors: per stream (partition key + subject), the last sequence published to every
   * target, so the relay publishes each stream in sequence order whatever order the stream brings its
   * records in. No stream; TTL (a cursor outlives the events it covers); PITR and the outbox key.
   */
  public readonly cursorTable: dynamodb.Table;
  public readonly bus: events.IEventBus;
  public readonly key: kms.IKey;
  public readonly relayFunction: ToolkitFunction;
  public readonly deadLetterQueue: sqs.Queue;
  public readonly deadLetterAlarm: cloudwatch.Alarm;
  public readonly iteratorAgeAlarm: cloudwatch.Alarm;
  /** The relay's stream mapping: outbox INSERTs only, bisect on error, bounded retries, DLQ. */
  public readonly eventSourceMapping: lambda.EventSourceMapping;
  public readonly source: string;
  /** How long outbox items (the service's event log) are kept. */
  public readonly retention: Duration | 'forever';
  private readonly retentionSeconds: number | undefined;
  private readonly orderedQueueUrls: string[] = [];

  constructor(scope: Construct, id: string, props: TransactionalOutboxProps) {
    super(scope, id);
    validate(props);
    this.source = props.source;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.retention = props.keepEventsForever ? 'forever' : (props.retention ?? Duration.days(30));
    this.retentionSeconds = this.retention === 'forever' ? undefined : this.retention.toSeconds();

    this.key =
      props.encryptionKey ??
      new kms.Key(this, 'Key', { enableKeyRotation: true, description: `Encrypts the ${props.source} outbox table and queues`, removalPolicy });

    this.table =
      props.table ??
      new dynamodb.Table(this, 'Table', {
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        removalPolicy,
        ...props.tableProps,
        encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: this.key,
        partitionKey: { name: OUTBOX.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: OUTBOX.sortKey, type: dynamodb.AttributeType.STRING },
        stream: dynamodb.StreamViewType.NEW_IMAGE,
        // An event-sourced log keeps its events for good: no TTL at all, not merely none set.
        ...(props.keepEventsForever ? {} : { timeToLiveAttribute: OUTBOX.ttlAttribute }),
      });

    this.cursorTable = new dynamodb.Table(this, 'RelayCursors', {
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      partitionKey: { name: CURSOR.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: CURSOR.sortKey, type: dynamodb.AttributeType.STRING },
      ...(props.keepEventsForever ? {} : { timeToLiveAttribute: CURSOR.ttlAttribute }),
    });

    this.bus = props.eventBus ?? new events.EventBus(this, 'Bus', props.eventBusName ? { eventBusName: props.eventBusName } : {});

    this.deadLetterQueue = newDeadLetterQueue(this, 'DeadLetterQueue', this.key, 'relay');

    const relay = props.relay ?? {};
    this.relayFunction = new ToolkitFunction(this, 'Relay', {
      entry: relay.entry ?? DEFAULT_RELAY_ENTRY,
      description:
        `Outbox relay of ${props.source}: stream → EventBridge and ordered FIFO subscribers` +
        (relay.entry && relay.entry !== DEFAULT_RELAY_ENTRY ? ` (handler ${relay.entry})` : ''),
      timeout: relay.timeout ?? Duration.minutes(1),
      environment: {
        POWERTOOLS_SERVICE_NAME: 'outbox-relay',
        [RELAY_ENV.eventBusName]: this.bus.eventBusName,
        [RELAY_ENV.deadLetterQueueUrl]: this.deadLetterQueue.queueUrl,
        [RELAY_ENV.outboxTableName]: this.table.tableName,
        [RELAY_ENV.cursorTableName]: this.cursorTable.tableName,
        [RELAY_ENV.orderedQueueUrls]: Lazy.string({ produce: () => Stack.of(this).toJsonString(this.orderedQueueUrls) }),
        [RELAY_ENV.maxAttempts]: String(relay.maxAttemptsPerEntry ?? 5),
      },
    });

    this.eventSourceMapping = streamMapping(this, 'RelayMapping', {
      fn: this.relayFunction,
      table: this.table,
      deadLetterQueue: this.deadLetterQueue,
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: relay.batchSize ?? 100,
      ...(relay.maxBatchingWindow ? { maxBatchingWindow: relay.maxBatchingWindow } : {}),
      retryAttempts: relay.retryAttempts ?? 10,
      filters: [
        lambda.FilterCriteria.filter({
          eventName: lambda.FilterRule.isEqual('INSERT'),
          dynamodb: { NewImage: { [OUTBOX.kindAttribute]: { S: lambda.FilterRule.isEqual(OUTBOX.kindValue) } } },
        }),
      ],
    });
    // Only with its own service's source: a relay (or whoever takes over its role) cannot pass off
    // another service's events on the bus. Consumers check that the envelope's source is the bus's.
    this.relayFunction.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['events:PutEvents'], resources: [this.bus.eventBusArn], conditions: { StringEquals: { 'events:source': props.source } } }),
    );
    // Ordering: read a stream's missing events from the outbox (Query only), read and write cursors.
    iam.Grant.addToPrincipal({ grantee: this.relayFunction, actions: ['dynamodb:Query'], resourceArns: [this.table.tableArn] });
    this.table.encryptionKey?.grant(this.relayFunction, 'kms:Decrypt');
    iam.Grant.addToPrincipal({ grantee: this.relayFunction, actions: ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'], resourceArns: [this.cursorTable.tableArn] });
    this.key.grant(this.relayFunction, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey');

    this.deadLetterAlarm = deadLetterQueueAlarm(
      this,
      'DeadLetterAlarm',
      this.deadLetterQueue,
      `Outbox events of ${props.source} could not be relayed: see the relay dead-letter queue`,
      props.alarmActions,
    );
    this.iteratorAgeAlarm = new cloudwatch.Alarm(this, 'IteratorAgeAlarm', {
      alarmDescription: `The ${props.source} relay is more than a minute behind its stream`,
      metric: this.relayFunction.metric('IteratorAge', { period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: 60_000,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.iteratorAgeAlarm.addAlarmAction(...(props.alarmActions ?? []));
  }

  /**
   * Registers an ordered subscriber: the relay sends every event to this FIFO queue, grouped by
   * partition key and deduplicated by event id.
   */
  addOrderedSubscriber(queue: sqs.IQueue): void {
    if (!queue.fifo) throw new Error(`addOrderedSubscriber: ${queue.node.path} is not a FIFO queue`);
    this.orderedQueueUrls.push(queue.queueUrl);
    grantSendMessage(this.relayFunction, queue);
  }

  /**
   * Lets a writer commit: `dynamodb:PutItem` (the only action its transactions use) on this table and
   * encrypt/decrypt with the table's key (if it has a customer-managed one), and sets the writer's
   * `OUTBOX_*` environment.
   */
  grantCommit(writer: lambda.Function): iam.Grant {
    writer.addEnvironment(OUTBOX_ENV.tableName, this.table.tableName);
    writer.addEnvironment(OUTBOX_ENV.source, this.source);
    if (this.retentionSeconds !== undefined) writer.addEnvironment(OUTBOX_ENV.retentionSeconds, String(this.retentionSeconds));
    this.table.encryptionKey?.grant(writer, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey');
    return iam.Grant.addToPrincipal({ grantee: writer, actions: ['dynamodb:PutItem'], resourceArns: [this.table.tableArn] });
  }

  /**
   * Lets a reader load aggregates and event streams, and nothing else: `dynamodb:GetItem` and
   * `dynamodb:Query` on this table, decrypt with its key, and the same `OUTBOX_*` environment as a writer
   * (an event store is addressed by the table and the source).
   */
  grantRead(reader: lambda.Function): iam.Grant {
    reader.addEnvironment(OUTBOX_ENV.tableName, this.table.tableName);
    reader.addEnvironment(OUTBOX_ENV.source, this.source);
    this.table.encryptionKey?.grant(reader, 'kms:Decrypt', 'kms:DescribeKey');
    return iam.Grant.addToPrincipal({ grantee: reader, actions: ['dynamodb:GetItem', 'dynamodb:Query'], resourceArns: [this.table.tableArn] });
  }
}

function validate(props: TransactionalOutboxProps): void {
  const problems: string[] = [];
  if (props.table && props.tableProps) problems.push('give either `table` or `tableProps`, not both');
  if (props.table && !props.table.tableStreamArn) problems.push('`table` must have a stream with new images');
  if (props.eventBus && props.eventBusName) problems.push('give either `eventBus` or `eventBusName`, not both');
  if (props.retention && props.keepEventsForever) problems.push('give either `retention` or `keepEventsForever`, not both');
  if (!/^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/.test(props.source)) problems.push('`source` must look like `app.context`, e.g. `coffee.orders`');
  if (props.tableProps && ('partitionKey' in props.tableProps || 'sortKey' in props.tableProps || 'stream' in props.tableProps)) {
    problems.push('`tableProps` must not set partitionKey, sortKey or stream: the outbox defines them');
  }
  const entry = props.relay?.entry;
  if (entry !== undefined && (path.isAbsolute(entry) || !/\.ts$/.test(entry) || !fs.existsSync(path.join(PROJECT_ROOT, entry)))) {
    problems.push(`\`relay.entry\` must name an existing .ts handler file relative to the repository root (got ${entry})`);
  }
  if (problems.length > 0) throw new Error(`TransactionalOutbox: ${problems.join('; ')}`);
}
