import { Duration, RemovalPolicy, Stack, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONSUMER_ENV } from '../../functions/toolkit/consumer/consumerConfig';
import { OUTBOX_ENV } from '../../functions/toolkit/outbox/outboxConfig';
import { stepEventTypes } from '../../functions/toolkit/saga/defineSaga';
import { SAGA_CLIENT_ENV, SAGA_ENV } from '../../functions/toolkit/saga/sagaConfig';
import { Saga, type SagaProps } from '../../lib/constructs/Saga';
import { TransactionalOutbox } from '../../lib/constructs/TransactionalOutbox';
import { transferSaga } from '../integration/saga/transferSaga';
import { allow, permissionSet, permissionsOf, wildcardAllows } from './support/iamPermissions';
import { itPassesNagChecks } from './support/nagReport';
import { projectApp, SKIP_BUNDLING } from './support/projectApp';

/** Any handler file will do: these tests bundle nothing. */
const ENTRY = 'test/integration/saga/transferSagaHandler.ts';

function build(stack: Stack, props: Partial<SagaProps> = {}): { saga: Saga; ledger: TransactionalOutbox; commands: sqs.Queue } {
  const ledger = new TransactionalOutbox(stack, 'Ledger', { source: 'test.ledger' });
  const commandsKey = new kms.Key(stack, 'CommandsKey', { enableKeyRotation: true });
  const commands = new sqs.Queue(stack, 'LedgerCommands', {
    encryption: sqs.QueueEncryption.KMS,
    encryptionMasterKey: commandsKey,
    enforceSSL: true,
    deadLetterQueue: { queue: new sqs.Queue(stack, 'LedgerCommandsDlq', { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: commandsKey, enforceSSL: true }), maxReceiveCount: 3 },
  });
  const saga = new Saga(stack, 'Transfer', { entry: ENTRY, definition: transferSaga, eventBus: ledger.bus, eventSources: [ledger.source], commandQueues: { ledger: commands }, ...props });
  return { saga, ledger, commands };
}

const ref = (stack: Stack, construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
const arnOf = (stack: Stack, construct: IConstruct) => ({ 'Fn::GetAtt': [ref(stack, construct), 'Arn'] });

describe('Saga', () => {
  let stack: Stack;
  let template: Template;
  let saga: Saga;
  let commands: sqs.Queue;
  let ledger: TransactionalOutbox;

  beforeAll(() => {
    stack = new Stack(projectApp({ context: SKIP_BUNDLING }), 'Test');
    ({ saga, commands, ledger } = build(stack));
    template = Template.fromStack(stack);
  });

  it("feeds its queue from a rule on the ledger's bus that matches exactly the steps' event types", () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: ref(stack, ledger.bus) },
      EventPattern: { 'detail-type': stepEventTypes(transferSaga) },
      Targets: [Match.objectLike({ Arn: arnOf(stack, saga.queue) })],
    });
  });

  it('runs on a standard, KMS-encrypted queue (timers need per-message delays, which FIFO queues refuse) with a dead-letter queue', () => {
    const queue = template.toJSON().Resources[ref(stack, saga.queue)].Properties;

    expect(queue.FifoQueue).toBeUndefined();
    expect(queue.KmsMasterKeyId).toBeDefined();
    expect(queue.RedrivePolicy).toEqual({ deadLetterTargetArn: arnOf(stack, saga.deadLetterQueue), maxReceiveCount: 7 });
  });

  it("keeps instances in a new outbox whose source is the saga's name, with point-in-time recovery and its own key", () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: Match.objectLike({ SSEEnabled: true, KMSMasterKeyId: Match.anyValue() }),
    });
    expect(saga.outbox.source).toBe('test.transfer');
  });

  it('tells the function where its queue, its command queues and its outbox are', () => {
    const fn = template.toJSON().Resources[ref(stack, saga.function)].Properties;
    const env = fn.Environment.Variables;

    expect(env[SAGA_ENV.queueUrl]).toEqual({ Ref: ref(stack, saga.queue) });
    expect(env[SAGA_ENV.commandQueues]).toEqual({ 'Fn::Join': ['', ['{"ledger":"', { Ref: ref(stack, commands) }, '"}']] });
    expect(env[OUTBOX_ENV.source]).toBe('test.transfer');
    expect(env[OUTBOX_ENV.tableName]).toEqual({ Ref: ref(stack, saga.table) });
  });

  it('takes the steps’ events from their services’ sources and its own start requests and timers (the saga’s own source), nothing else', () => {
    const env = template.toJSON().Resources[ref(stack, saga.function)].Properties.Environment.Variables;
    expect(JSON.parse(env[CONSUMER_ENV.eventSources])).toEqual(['test.ledger', 'test.transfer']);
  });

  it('may read and commit instances (GetItem, PutItem) on its table and nothing else there, and send to its queue and its command queues only', () => {
    const permissions = permissionsOf(template, stack, saga.function.role);
    const on = (resource: unknown) => permissions.filter((p) => JSON.stringify(p.resource) === JSON.stringify(resource)).map((p) => p.action).sort();

    expect(on(arnOf(stack, saga.table))).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem']);
    expect(on(arnOf(stack, commands))).toEqual(['sqs:SendMessage']);
    expect(on(arnOf(stack, saga.queue))).toEqual(['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage', 'sqs:SendMessage']);
    expect(permissions).toEqual(expect.arrayContaining(allow(['kms:GenerateDataKey', 'kms:Decrypt'], arnOf(stack, commands.encryptionMasterKey!))));
    expect(permissions.filter((p) => p.action === 'sqs:SendMessage').map((p) => p.resource)).toHaveLength(3); // commands, its own queue, its DLQ
    expect(wildcardAllows(template)).toEqual([]);
  });

  it('grantStart lets a starter record its request (PutItem on the saga table, decrypting only through DynamoDB) and send to the saga’s queue, and nothing more; it tells the starter where they are', () => {
    // arrange
    const local = new Stack(projectApp({ context: SKIP_BUNDLING }), 'Caller');
    const { saga: callee } = build(local);
    const starter = new lambda.Function(local, 'Starter', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => {}') });

    // act
    callee.grantStart(starter);

    // assert
    const template = Template.fromStack(local);
    const viaDynamoDb = { StringEquals: { 'kms:ViaService': local.resolve(`dynamodb.${local.region}.amazonaws.com`) } };
    expect(permissionsOf(template, local, starter.role)).toEqual(
      permissionSet(
        allow(['sqs:SendMessage'], arnOf(local, callee.queue)),
        allow(['kms:GenerateDataKey', 'kms:Decrypt'], arnOf(local, callee.queue.encryptionMasterKey!)),
        allow(['dynamodb:PutItem'], arnOf(local, callee.table)),
        [{ effect: 'Allow', action: 'kms:Decrypt', resource: arnOf(local, callee.table.encryptionKey!), condition: viaDynamoDb }],
      ),
    );
    const env = template.toJSON().Resources[ref(local, starter)].Properties.Environment.Variables;
    expect(env).toEqual({ [SAGA_CLIENT_ENV.queueUrl]: { Ref: ref(local, callee.queue) }, [SAGA_CLIENT_ENV.tableName]: { Ref: ref(local, callee.table) } });
  });

  it('refuses conflicting or incomplete props, listing every problem', () => {
    const local = new Stack(projectApp({ context: SKIP_BUNDLING }), 'Bad');
    const wrongOutbox = new TransactionalOutbox(local, 'Other', { source: 'other.saga' });
    const key = new kms.Key(local, 'Key');

    const attempt = () =>
      new Saga(local, 'Bad', { entry: ENTRY, definition: transferSaga, eventBus: wrongOutbox.bus, eventSources: ['test.ledger'], commandQueues: {}, outbox: wrongOutbox, encryptionKey: key });

    expect(attempt).toThrow(/either `outbox` or `encryptionKey`.*must be the saga's name \(test\.transfer\).*at least one target/);
  });

  describe('cdk-nag AwsSolutions checks on a stack with a saga', () => {
    itPassesNagChecks((app) => {
      const nagged = new Stack(app, 'SagaNag');
      build(nagged, { timeout: Duration.seconds(10), removalPolicy: RemovalPolicy.DESTROY });
    });
  });
});
