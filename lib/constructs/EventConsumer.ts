import { Duration, Names, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CIRCUIT_ENV } from '../../functions/toolkit/consumer/circuitBreakerConfig';
import { CONSUMER_ENV } from '../../functions/toolkit/consumer/consumerConfig';
import { PROJECTION_ENV } from '../../functions/toolkit/projection/projectionConfig';
import { circuitBreakerProblems, ConsumerCircuitBreaker, type CircuitBreakerOptions } from './ConsumerCircuitBreaker';
import { deadLetterQueueAlarm } from './alarms';
import { dedupWindowProblem, requiredDedupWindow, type RequiredDedupWindow } from './dedupWindow';
import { grantSendMessage } from './grants';
import { ToolkitFunction } from './ToolkitFunction';
import type { TransactionalOutbox } from './TransactionalOutbox';

/** Events of a bus that match a pattern, unordered (an EventBridge rule → a standard queue). */
export interface FanoutSource {
  readonly kind: 'fanout';
  readonly bus: events.IEventBus;
  /**
   * Must name the `source`s it takes (plain names): the consumer refuses, as poison, an event from any
   * other, however it reached its queue; a forged or misrouted event never reaches the handler.
   */
  readonly pattern: events.EventPattern;
  /**
   * Sources of messages that functions send straight to the queue, besides what the rule delivers
   * (a saga's start requests and timers, under the saga's own source): accepted too. @default none
   */
  readonly directSources?: readonly string[];
}

/** Every event of an outbox, in per-key order (a FIFO queue registered with the outbox's relay). */
export interface OrderedSource {
  readonly kind: 'ordered';
  readonly outbox: TransactionalOutbox;
}

/**
 * Messages other functions send to the consumer's queue (a standard queue), e.g. a saga's commands to
 * a target service: grant them `sqs:SendMessage` on `queue` (a `Saga` does for its command queues).
 */
export interface CommandSource {
  readonly kind: 'commands';
}

/** Where a consumer's messages come from. */
export type EventConsumerSource = FanoutSource | OrderedSource | CommandSource;

export interface EventConsumerProps {
  /** The handler file, relative to the repository root, e.g. `functions/coffee/board/updateBoardHandler.ts`. */
  readonly entry: string;
  /** Fan-out from a bus, or ordered from an outbox. */
  readonly source: EventConsumerSource;
  /**
   * Deliveries of a message before the handler dead-letters it with its last error. The queue's own
   * redrive (`maxReceiveCount`) is two more: a backstop for a function that crashes before it can.
   * @default 5
   */
  readonly maxAttempts?: number;
  /** The function's timeout, at most 15 minutes; the queue's visibility timeout is six times it. @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** Messages per invocation, 1 to 10. @default 10 */
  readonly batchSize?: number;
  /** Concurrent invocations the mapping may start (rate limit and bulkhead), 2 to 1000. @default 2 */
  readonly maxConcurrency?: number;
  /** First retry delay; doubles (with jitter) on each attempt. @default Duration.seconds(2) */
  readonly backoffBase?: Duration;
  /** Longest retry delay, at most 12 hours (the longest visibility timeout). @default Duration.minutes(5) */
  readonly backoffMax?: Duration;
  /**
   * How long a message id is remembered (inbox items, Powertools records): at least as long as a
   * copy of the message can come back — upstream redelivery, the queue's and the dead-letter queue's
   * retention and a redrive allowance, and the retention of every log it can be replayed from (an
   * ordered source's outbox, `replayLogs`). A shorter value fails the synth and says why.
   * @default exactly that (`'forever'` when such a log keeps its events for good)
   */
  readonly dedupWindow?: Duration | 'forever';
  /**
   * Merged into the function's environment; may override `POWERTOOLS_SERVICE_NAME` (the construct id
   * by default), not the `CONSUMER_*` variables the construct sets.
   * @default none
   */
  readonly environment?: Record<string, string>;
  /** What the alarms do (e.g. an SNS topic action). @default none: the alarms are still created */
  readonly alarmActions?: cloudwatch.IAlarmAction[];
  /**
   * The key that encrypts the idempotency table, and the queues of an ordered or command consumer (a
   * fan-out consumer's queues, written by EventBridge, always get a key of their own: `queueKey`).
   * @default ordered: the outbox's key; otherwise a new key with rotation on
   */
  readonly encryptionKey?: kms.IKey;
  /** Of the idempotency table and of a new key. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Circuit breakers for the handler's calls to other systems (`circuit(name).call(…)`): when one
   * opens, the consumer disables its own mapping until a closer, run every minute, re-enables it
   * after the cool-down. Give `{}` for the defaults.
   * @default none: `circuit()` fails the cold start
   */
  readonly circuitBreaker?: CircuitBreakerOptions;
  /**
   * The event logs (outboxes) this consumer may catch up from: a projection (`defineProjection`)
   * fills a gap in a row from the log of the event's source. Grants `dynamodb:Query` on exactly
   * these tables and `kms:Decrypt` on their keys, and sets `PROJECTION_LOGS` to
   * `{ "<source>": "<table name>" }`. At most one outbox per source.
   * @default none: gaps are not filled (events are applied when newer than the row's watermark)
   */
  readonly replayLogs?: TransactionalOutbox[];
}

const QUEUE_NAME_MAX_LENGTH = 80;
/** SQS's default retention, stated: the dedup window rule counts on it. */
const QUEUE_RETENTION = Duration.days(4);
/** The longest SQS retention: an operator has two weeks to look at a dead letter. */
const DEAD_LETTER_RETENTION = Duration.days(14);
const MAX_FUNCTION_TIMEOUT = Duration.minutes(15);
const MAX_VISIBILITY_TIMEOUT = Duration.hours(12);
/** The bounds `ConsumerConfigSchema` accepts, so that a bad value fails the synth, not the cold start. */
const MAX_ATTEMPTS_LIMIT = 100;

/**
 * One idempotent consumer: a handler file wired to events, either fanned out from a bus (a rule → a
 * standard queue) or in per-key order from an outbox (a FIFO queue the relay sends to). Each consumer
 * has its own queue (a bulkhead), a dead-letter queue with an alarm, an idempotency table keyed by
 * event id, and a mapping that reports partial batch failures with bounded concurrency.
 */
export class EventConsumer extends Construct {
  public readonly function: ToolkitFunction;
  public readonly queue: sqs.Queue;
  /** Where the handler sends poison and exhausted messages (and where the queue's redrive ends). */
  public readonly deadLetterQueue: sqs.Queue;
  /** Fan-out only: events the rule could not deliver to `queue`. */
  public readonly ruleDeadLetterQueue?: sqs.Queue;
  /** Fan-out only. */
  public readonly rule?: events.Rule;
  /** The consumer's state: inbox items, parked FIFO groups, circuits, Powertools records (partition key `id`, TTL `expiration`). */
  public readonly idempotencyTable: dynamodb.Table;
  /** How long message ids are remembered, and why that long. */
  public readonly dedupWindow: Duration | 'forever';
  /** Encrypts the idempotency table, and the queues of an ordered or command consumer. */
  public readonly key: kms.IKey;
  /**
   * Encrypts the queues. A fan-out consumer's queue is written by EventBridge, which its key policy
   * lets use the key: a key of its own then, that encrypts nothing else (`key` otherwise).
   */
  public readonly queueKey: kms.IKey;
  /** The function's mapping on `queue`: partial batch failures, bounded concurrency. */
  public readonly eventSourceMapping: lambda.EventSourceMapping;
  public readonly deadLetterAlarm: cloudwatch.Alarm;
  /** Fan-out only. */
  public readonly ruleDeadLetterAlarm?: cloudwatch.Alarm;
  /** With `circuitBreaker` only: the closer, its schedule and the consumer's mapping permissions. */
  public readonly circuitBreaker?: ConsumerCircuitBreaker;

  constructor(scope: Construct, id: string, props: EventConsumerProps) {
    super(scope, id);
    const required = requiredDedupWindow({
      queueRetention: QUEUE_RETENTION,
      deadLetterRetention: DEAD_LETTER_RETENTION,
      logs: [...(props.source.kind === 'ordered' ? [props.source.outbox] : []), ...(props.replayLogs ?? [])].map((outbox) => ({ name: outbox.source, retention: outbox.retention })),
    });
    validate(props, required);
    this.dedupWindow = props.dedupWindow ?? (required.window === 'forever' ? 'forever' : Duration.seconds(required.window));
    const { source } = props;
    const ordered = source.kind === 'ordered';
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const maxAttempts = props.maxAttempts ?? 5;
    const timeout = props.timeout ?? Duration.seconds(30);

    this.key =
      props.encryptionKey ??
      (source.kind === 'ordered'
        ? source.outbox.key
        : new kms.Key(this, 'Key', { enableKeyRotation: true, description: `Encrypts the state table${source.kind === 'fanout' ? '' : ' and the queues'} of ${this.node.path}`, removalPolicy }));
    this.queueKey =
      source.kind === 'fanout'
        ? new kms.Key(this, 'QueueKey', { enableKeyRotation: true, description: `Encrypts the queues of ${this.node.path}, which EventBridge writes to`, removalPolicy })
        : this.key;

    // FIFO queues get a physical name: it must end in `.fifo` (and the local emulator keys FIFO on it).
    const fifoBaseName = ordered ? Names.uniqueResourceName(this, { maxLength: QUEUE_NAME_MAX_LENGTH - '-dlq.fifo'.length }) : undefined;
    const queueDefaults: sqs.QueueProps = {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.queueKey,
      enforceSSL: true,
      ...(ordered ? { fifo: true } : {}),
    };

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      ...queueDefaults,
      retentionPeriod: DEAD_LETTER_RETENTION,
      ...(fifoBaseName ? { queueName: `${fifoBaseName}-dlq.fifo` } : {}),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      ...queueDefaults,
      retentionPeriod: QUEUE_RETENTION,
      visibilityTimeout: Duration.seconds(timeout.toSeconds() * 6),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: maxAttempts + 2 },
      ...(fifoBaseName ? { queueName: `${fifoBaseName}.fifo` } : {}),
    });

    this.idempotencyTable = new dynamodb.Table(this, 'IdempotencyTable', {
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: 'expiration',
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      removalPolicy,
    });

    this.function = new ToolkitFunction(this, 'Function', {
      entry: props.entry,
      description: `Consumer ${this.node.path}: ${ordered ? 'ordered, from the outbox relay' : 'fan-out, from a bus rule'}`,
      timeout,
      environment: {
        POWERTOOLS_SERVICE_NAME: id,
        ...props.environment,
        [CONSUMER_ENV.idempotencyTableName]: this.idempotencyTable.tableName,
        [CONSUMER_ENV.queueUrl]: this.queue.queueUrl,
        [CONSUMER_ENV.deadLetterQueueUrl]: this.deadLetterQueue.queueUrl,
        [CONSUMER_ENV.maxAttempts]: String(maxAttempts),
        [CONSUMER_ENV.backoffBaseSeconds]: String((props.backoffBase ?? Duration.seconds(2)).toSeconds()),
        [CONSUMER_ENV.backoffMaxSeconds]: String((props.backoffMax ?? Duration.minutes(5)).toSeconds()),
        [CONSUMER_ENV.dedupWindowSeconds]: this.dedupWindow === 'forever' ? 'forever' : String(this.dedupWindow.toSeconds()),
        // The sources it subscribes to: an event from another is poison (commands carry no source).
        ...(props.source.kind === 'commands' ? {} : { [CONSUMER_ENV.eventSources]: JSON.stringify(props.source.kind === 'ordered' ? [props.source.outbox.source] : [...props.source.pattern.source!, ...(props.source.directSources ?? [])]) }),
      },
    });

    // Exact grants. The state table: inbox items (PutItem in the effect's transaction, GetItem),
    // parked groups, circuits and what Powertools' DynamoDBPersistenceLayer calls (not
    // grantReadWriteData, which adds BatchWriteItem, Scan, Query and kms:ReEncrypt*).
    iam.Grant.addToPrincipal({
      grantee: this.function,
      actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
      resourceArns: [this.idempotencyTable.tableArn],
    });
    this.key.grant(this.function, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey');
    // Receive from the queue (its own dead-letter queue is granted with the send below).
    if (this.queueKey !== this.key) this.queueKey.grant(this.function, 'kms:Decrypt');
    // The mapping's poller (ReceiveMessage, DeleteMessage, GetQueueAttributes) and the handler's
    // backoff (ChangeMessageVisibility). Declared here rather than with SqsEventSource, whose grant
    // adds sqs:GetQueueUrl, which neither needs.
    iam.Grant.addToPrincipal({
      grantee: this.function,
      actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ChangeMessageVisibility'],
      resourceArns: [this.queue.queueArn],
    });
    grantSendMessage(this.function, this.deadLetterQueue);
    if (props.replayLogs?.length) this.grantReplayLogs(props.replayLogs);

    this.eventSourceMapping = new lambda.EventSourceMapping(this, 'Mapping', {
      target: this.function,
      eventSourceArn: this.queue.queueArn,
      batchSize: props.batchSize ?? 10,
      maxConcurrency: props.maxConcurrency ?? 2,
      reportBatchItemFailures: true,
    });
    if (props.circuitBreaker) {
      this.circuitBreaker = new ConsumerCircuitBreaker(this, 'CircuitBreaker', { ...props.circuitBreaker, consumerFunction: this.function, queue: this.queue, table: this.idempotencyTable, key: this.key });
    }

    if (source.kind === 'ordered') {
      source.outbox.addOrderedSubscriber(this.queue);
    } else if (source.kind === 'fanout') {
      this.ruleDeadLetterQueue = new sqs.Queue(this, 'RuleDeadLetterQueue', { ...queueDefaults, retentionPeriod: Duration.days(14) });
      Validations.of(this.ruleDeadLetterQueue).acknowledge({
        id: 'AwsSolutions-SQS3',
        reason: "This is the rule target's dead-letter queue itself; its messages are kept 14 days and alarmed on.",
      });
      this.rule = new events.Rule(this, 'Rule', {
        eventBus: source.bus,
        description: `Events for the consumer ${this.node.path}`,
        eventPattern: source.pattern,
      });
      // With an encrypted queue, the target allows events.amazonaws.com on the queue and its key for
      // rules of this account (aws:SourceAccount, cdk.json flag eventsTargetQueueSameAccount): the
      // rule's ARN cannot be named in the key policy without a dependency cycle.
      this.rule.addTarget(
        new targets.SqsQueue(this.queue, { deadLetterQueue: this.ruleDeadLetterQueue, retryAttempts: 8, maxEventAge: Duration.hours(24) }),
      );
      // The queue policy can name the rule: no other rule of the account may send to this queue.
      this.queue.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'OnlyThisConsumersRule',
          effect: iam.Effect.DENY,
          principals: [new iam.ServicePrincipal('events.amazonaws.com')],
          actions: ['sqs:SendMessage'],
          resources: [this.queue.queueArn],
          conditions: { ArnNotEquals: { 'aws:SourceArn': this.rule.ruleArn } },
        }),
      );
      this.ruleDeadLetterAlarm = deadLetterQueueAlarm(this, 'RuleDeadLetterAlarm', this.ruleDeadLetterQueue, `Events the rule of ${this.node.path} could not deliver to its queue: see its dead-letter queue`, props.alarmActions);
    }

    this.deadLetterAlarm = deadLetterQueueAlarm(this, 'DeadLetterAlarm', this.deadLetterQueue, `Events the consumer ${this.node.path} could not process: see the dead-letter queue`, props.alarmActions);
  }

  /** Read access to the logs a projection fills gaps from (Query only), and where they are. */
  private grantReplayLogs(logs: readonly TransactionalOutbox[]): void {
    iam.Grant.addToPrincipal({ grantee: this.function, actions: ['dynamodb:Query'], resourceArns: logs.map((outbox) => outbox.table.tableArn) });
    for (const outbox of logs) outbox.table.encryptionKey?.grant(this.function, 'kms:Decrypt');
    this.function.addEnvironment(PROJECTION_ENV.logs, Stack.of(this).toJsonString(Object.fromEntries(logs.map((outbox) => [outbox.source, outbox.table.tableName]))));
  }

}

function validate(props: EventConsumerProps, required: RequiredDedupWindow): void {
  const problems: string[] = [];
  const isIntegerIn = (value: number, min: number, max: number) => Token.isUnresolved(value) || (Number.isInteger(value) && value >= min && value <= max);
  const seconds = (duration: Duration) => duration.toSeconds({ integral: false });
  const inWholeSeconds = (name: string, duration: Duration | undefined) => {
    if (duration && !duration.isUnresolved() && !Number.isInteger(seconds(duration))) problems.push(`\`${name}\` must be whole seconds`);
  };

  if (props.maxAttempts !== undefined && !isIntegerIn(props.maxAttempts, 1, MAX_ATTEMPTS_LIMIT)) {
    problems.push(`\`maxAttempts\` must be an integer from 1 to ${MAX_ATTEMPTS_LIMIT}`);
  }
  if (props.maxConcurrency !== undefined && !isIntegerIn(props.maxConcurrency, 2, 1000)) {
    problems.push('`maxConcurrency` must be an integer from 2 to 1000');
  }
  if (props.batchSize !== undefined && !isIntegerIn(props.batchSize, 1, 10)) problems.push('`batchSize` must be an integer from 1 to 10');
  if (props.timeout && !props.timeout.isUnresolved() && seconds(props.timeout) > seconds(MAX_FUNCTION_TIMEOUT)) {
    problems.push('`timeout` must be at most 15 minutes');
  }
  inWholeSeconds('timeout', props.timeout);
  inWholeSeconds('backoffBase', props.backoffBase);
  inWholeSeconds('backoffMax', props.backoffMax);
  if (props.dedupWindow !== undefined && props.dedupWindow !== 'forever') inWholeSeconds('dedupWindow', props.dedupWindow);
  if (props.backoffMax && !props.backoffMax.isUnresolved() && (seconds(props.backoffMax) < 1 || seconds(props.backoffMax) > seconds(MAX_VISIBILITY_TIMEOUT))) {
    problems.push('`backoffMax` must be from 1 second to 12 hours (the longest visibility timeout)');
  }
  const backoffBase = props.backoffBase ?? Duration.seconds(2);
  const backoffMax = props.backoffMax ?? Duration.minutes(5);
  if (!backoffBase.isUnresolved() && !backoffMax.isUnresolved() && seconds(backoffBase) > seconds(backoffMax)) {
    problems.push('`backoffBase` must not be longer than `backoffMax`');
  }
  if (props.dedupWindow !== undefined && (props.dedupWindow === 'forever' || !props.dedupWindow.isUnresolved())) {
    const problem = dedupWindowProblem(props.dedupWindow, required);
    if (problem) problems.push(problem);
  }
  if (props.source.kind === 'fanout' && !(props.source.pattern.source?.length && props.source.pattern.source.every((source) => typeof source === 'string' && !Token.isUnresolved(source)))) {
    problems.push('a fan-out `pattern` must name the `source`s it takes (plain names): the consumer accepts events from those only');
  }
  problems.push(...circuitBreakerProblems(props.circuitBreaker));
  const reserved = Object.keys(props.environment ?? {}).filter((name) => ([...Object.values(CONSUMER_ENV), ...Object.values(CIRCUIT_ENV)] as string[]).includes(name));
  if (reserved.length > 0) problems.push(`\`environment\` must not set ${reserved.join(', ')}: the construct sets them`);
  if (props.replayLogs?.length) {
    if (props.environment && PROJECTION_ENV.logs in props.environment) problems.push(`\`environment\` must not set ${PROJECTION_ENV.logs} with \`replayLogs\`: the construct sets it`);
    const sources = props.replayLogs.map((outbox) => outbox.source);
    const twice = [...new Set(sources.filter((source, index) => sources.indexOf(source) !== index))];
    if (twice.length > 0) problems.push(`\`replayLogs\` has more than one outbox of source ${twice.join(', ')}`);
  }
  if (problems.length > 0) throw new Error(`EventConsumer: ${problems.join('; ')}`);
}
