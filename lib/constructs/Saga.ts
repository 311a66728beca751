import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { stepEventTypes, type SagaOutline } from '../../functions/toolkit/saga/defineSaga';
import { SAGA_CLIENT_ENV, SAGA_ENV } from '../../functions/toolkit/saga/sagaConfig';
import { EventConsumer } from './EventConsumer';
import { grantSendMessage } from './grants';
import type { ToolkitFunction } from './ToolkitFunction';
import { TransactionalOutbox } from './TransactionalOutbox';

export interface SagaProps {
  /** The saga's handler file, relative to the repository root; it exports `handler = defineSagaHandler(definition)`. */
  readonly entry: string;
  /** The saga's definition (as data): its name and the events its steps wait for. */
  readonly definition: SagaOutline;
  /** The bus the steps' events are published on (the target services' outbox bus); the saga's own events go there too. */
  readonly eventBus: events.IEventBus;
  /**
   * The `source`s the steps' events may come from (the target services'): an event of the right type
   * from any other service on the bus does not move a saga (it is refused as poison).
   */
  readonly eventSources: string[];
  /** Target name (as the steps' commands name it) → that service's command queue. */
  readonly commandQueues: Readonly<Record<string, sqs.IQueue>>;
  /**
   * The outbox that keeps the saga instances and publishes the saga's own events; its `source` must
   * be the saga's name. Not with `encryptionKey`.
   * @default a new outbox on `eventBus` whose source is the saga's name
   */
  readonly outbox?: TransactionalOutbox;
  /** Encrypts a new outbox's table and the saga's queues. Not with `outbox`. @default new keys with rotation on */
  readonly encryptionKey?: kms.IKey;
  /** Deliveries of an input before it is dead-lettered. @default 5 */
  readonly maxAttempts?: number;
  /** The saga function's timeout. @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** First retry delay of a failed input; doubles with jitter. @default Duration.seconds(2) */
  readonly backoffBase?: Duration;
  /** Longest retry delay. @default Duration.minutes(5) */
  readonly backoffMax?: Duration;
  /** What the alarms do. @default none: the alarms are still created */
  readonly alarmActions?: cloudwatch.IAlarmAction[];
  /** Of a new outbox's table and key and of the idempotency table. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * An orchestrated saga whose state lives in DynamoDB and advances on events: instances are
 * version-conditioned items of the saga's transactional outbox (which publishes `<name>.started`,
 * `.completed`, `.compensated`, `.failed`, …); one idempotent consumer reads the saga's queue, which
 * receives start requests, the steps' events (a bus rule on exactly their types) and the saga's own
 * step timers (delayed messages); commands go to the target services' command queues.
 */
export class Saga extends Construct {
  public readonly outbox: TransactionalOutbox;
  /** The outbox's table: saga instances (`SAGA#<id>`/`STATE`), the requests that started them (`SAGA#<id>`/`REQUEST`) and the saga's events. */
  public readonly table: TransactionalOutbox['table'];
  /** The consumer that runs the saga: its queue, dead-letter queue, rule and alarms. */
  public readonly consumer: EventConsumer;
  public readonly function: ToolkitFunction;
  /** The saga's queue: start requests, step events, timers. */
  public readonly queue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: SagaProps) {
    super(scope, id);
    validate(props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.outbox =
      props.outbox ??
      new TransactionalOutbox(this, 'Outbox', {
        source: props.definition.name,
        eventBus: props.eventBus,
        removalPolicy,
        ...(props.encryptionKey ? { encryptionKey: props.encryptionKey } : {}),
        alarmActions: props.alarmActions ?? [],
      });
    this.table = this.outbox.table;

    this.consumer = new EventConsumer(this, 'Runner', {
      entry: props.entry,
      // Start requests and timers come straight to the queue under the saga's own source.
      source: { kind: 'fanout', bus: props.eventBus, pattern: { detailType: stepEventTypes(props.definition), source: props.eventSources }, directSources: [props.definition.name] },
      timeout: props.timeout ?? Duration.seconds(30),
      removalPolicy,
      environment: { POWERTOOLS_SERVICE_NAME: props.definition.name },
      ...(props.maxAttempts === undefined ? {} : { maxAttempts: props.maxAttempts }),
      ...(props.backoffBase ? { backoffBase: props.backoffBase } : {}),
      ...(props.backoffMax ? { backoffMax: props.backoffMax } : {}),
      ...(props.alarmActions ? { alarmActions: props.alarmActions } : {}),
      ...(props.encryptionKey ? { encryptionKey: props.encryptionKey } : {}),
    });
    this.function = this.consumer.function;
    this.queue = this.consumer.queue;
    this.deadLetterQueue = this.consumer.deadLetterQueue;

    // Instances: read (GetItem) and commit (PutItem in a transaction, via the outbox).
    this.outbox.grantCommit(this.function);
    iam.Grant.addToPrincipal({ grantee: this.function, actions: ['dynamodb:GetItem'], resourceArns: [this.table.tableArn] });
    // Timers to its own queue; commands to each target's queue.
    grantSendMessage(this.function, this.queue);
    for (const queue of Object.values(props.commandQueues)) grantSendMessage(this.function, queue);
    this.function.addEnvironment(SAGA_ENV.queueUrl, this.queue.queueUrl);
    this.function.addEnvironment(
      SAGA_ENV.commandQueues,
      Stack.of(this).toJsonString(Object.fromEntries(Object.entries(props.commandQueues).map(([target, queue]) => [target, queue.queueUrl]))),
    );
  }

  /**
   * Lets `starter` start saga instances (`SagaClient.start`): record a start request in the saga's
   * table (`dynamodb:PutItem`, and `kms:Decrypt` on the table's key only through DynamoDB, which
   * calls it as the caller for a table with a customer-managed key) and send to the saga's queue.
   * Sets the starter's `SAGA_CLIENT_*` environment.
   */
  grantStart(starter: lambda.Function): iam.Grant {
    starter.addEnvironment(SAGA_CLIENT_ENV.queueUrl, this.queue.queueUrl);
    starter.addEnvironment(SAGA_CLIENT_ENV.tableName, this.table.tableName);
    const send = grantSendMessage(starter, this.queue);
    const put = iam.Grant.addToPrincipal({ grantee: starter, actions: ['dynamodb:PutItem'], resourceArns: [this.table.tableArn] });
    const key = this.table.encryptionKey;
    if (!key) return send.combine(put);
    const decrypt = iam.Grant.addToPrincipal({
      grantee: starter,
      actions: ['kms:Decrypt'],
      resourceArns: [key.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(this).region}.amazonaws.com` } },
    });
    return send.combine(put).combine(decrypt);
  }
}

function validate(props: SagaProps): void {
  const problems: string[] = [];
  if (props.outbox && props.encryptionKey) problems.push('give either `outbox` or `encryptionKey`, not both');
  if (props.outbox && props.outbox.source !== props.definition.name) {
    problems.push(`the outbox's source (${props.outbox.source}) must be the saga's name (${props.definition.name})`);
  }
  const targets = Object.keys(props.commandQueues);
  if (targets.length === 0) problems.push('`commandQueues` must name at least one target');
  for (const target of targets) if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(target)) problems.push(`command queue target "${target}" must be a simple name`);
  if (props.definition.steps.length === 0) problems.push('the definition has no steps');
  if (problems.length > 0) throw new Error(`Saga: ${problems.join('; ')}`);
}
