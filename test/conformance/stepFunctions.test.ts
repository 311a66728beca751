import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { endpointUrl, REGION, ROOT, waitUntilHealthy } from '../../localstack/cloud';
import { eventually, unique } from '../support/eventually';
import { scratchStack } from '../support/scratchStack';
import { isMiniStack, knownGap } from '../support/knownGap';

// Issue 7's decision: is the transfer saga's orchestrator AWS Step Functions, or a saga whose state
// lives in DynamoDB and advances on events? Step Functions only if the local cloud runs faithfully
// what the orchestrator would rely on. This file pins each of those behaviours, and then what the
// DynamoDB saga relies on instead. The outcome (DynamoDB saga; see functions/toolkit/saga/README.md):
// - Task → Lambda, Retry, Catch, waitForTaskToken with SendTaskSuccess/Failure, a task's
//   TimeoutSeconds and Wait states work;
// - HeartbeatSeconds and the state machine's own TimeoutSeconds are ignored (known gaps below);
// - an execution is a thread inside the emulator: after a restart (even with PERSIST_STATE=1) a
//   RUNNING execution is FAILED with States.ServiceRestart, so a transfer caught mid-flight would be
//   neither finished nor compensated — money held in a reservation for good. A DynamoDB item and a
//   delayed SQS message survive the same restart, so a saga made of those resumes.
//
// Step Functions is called with plain JSON requests (no @aws-sdk/client-sfn in the project: the
// toolkit does not use Step Functions at run time), parsed with zod.

const SfnError = z.object({ __type: z.string().optional(), message: z.string().optional() });

/** One Step Functions API call (JSON 1.0 protocol), against `endpoint`. */
async function sfn<T>(action: string, body: object, schema: z.ZodType<T>, endpoint = endpointUrl()): Promise<T> {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.0',
      'X-Amz-Target': `AWSStepFunctions.${action}`,
      // The local cloud reads the region from the credential scope; it does not check the signature.
      Authorization: `AWS4-HMAC-SHA256 Credential=test/20260101/${REGION}/states/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify(body),
  });
  const json: unknown = await response.json();
  if (!response.ok) {
    const error = SfnError.parse(json);
    throw new Error(`Step Functions ${action}: ${error.__type ?? response.status} ${error.message ?? ''}`);
  }
  return schema.parse(json);
}

const Started = z.object({ executionArn: z.string() });
const Execution = z.object({
  status: z.enum(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE']),
  startDate: z.number(),
  stopDate: z.number().nullish(),
  output: z.string().nullish(),
  error: z.string().nullish(),
  cause: z.string().nullish(),
});
type Execution = z.infer<typeof Execution>;
const History = z.object({ events: z.array(z.object({ type: z.string() }).loose()) });
const Empty = z.object({});

const start = async (stateMachineArn: string, input: object, endpoint?: string) =>
  (await sfn('StartExecution', { stateMachineArn, name: unique('exec'), input: JSON.stringify(input) }, Started, endpoint)).executionArn;
const describeExecution = (executionArn: string, endpoint?: string) => sfn('DescribeExecution', { executionArn }, Execution, endpoint);
const finished = (executionArn: string, timeoutMs = 30_000) =>
  eventually(() => describeExecution(executionArn), (e) => e.status !== 'RUNNING', { what: `execution ${executionArn} to stop`, timeoutMs, intervalMs: 200 });
const historyTypes = async (executionArn: string) =>
  (await sfn('GetExecutionHistory', { executionArn, maxResults: 1000 }, History)).events.map((e) => e.type);

// The saga's shape in miniature: a step, a compensation for it, and a Fail state saying the saga was
// compensated. The step is a Lambda (told to fail by its input) or a command sent to a queue with a
// task token, answered later by SendTaskSuccess/SendTaskFailure (the event-driven form).
const compensated = {
  Release: { Type: 'Pass', Result: 'released', ResultPath: '$.compensation', Next: 'Compensated' },
  Compensated: { Type: 'Fail', Error: 'TransferCompensated', Cause: 'a step failed; its predecessors were compensated' },
  Done: { Type: 'Succeed' },
};
const callbackStep = (timeouts: { TimeoutSeconds: number; HeartbeatSeconds?: number }) => ({
  StartAt: 'Reserve',
  States: {
    Reserve: {
      Type: 'Task',
      Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
      Parameters: { QueueUrl: '${CommandQueueUrl}', MessageBody: { 'taskToken.$': '$$.Task.Token', 'transferId.$': '$.transferId' } },
      ...timeouts,
      ResultPath: '$.reserve',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Release' }],
      Next: 'Done',
    },
    ...compensated,
  },
});

const stepHandler = [
  'class StepFailed(Exception):',
  '    pass',
  '',
  'def handler(event, context):',
  '    if event.get("fail"):',
  '        raise StepFailed("told to fail")',
  '    return {"ok": True, "transferId": event.get("transferId")}',
  '',
].join('\n');

const machine = (definition: object, substitutions: Record<string, unknown> = {}) => ({
  Type: 'AWS::StepFunctions::StateMachine',
  Properties: {
    RoleArn: { 'Fn::GetAtt': ['MachineRole', 'Arn'] },
    Definition: definition,
    ...(Object.keys(substitutions).length > 0 ? { DefinitionSubstitutions: substitutions } : {}),
  },
});

const template = {
  Resources: {
    FunctionRole: {
      Type: 'AWS::IAM::Role',
      Properties: { AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] } },
    },
    Step: {
      Type: 'AWS::Lambda::Function',
      Properties: { Runtime: 'python3.12', Handler: 'index.handler', Timeout: 10, Role: { 'Fn::GetAtt': ['FunctionRole', 'Arn'] }, Code: { ZipFile: stepHandler } },
    },
    CommandQueue: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 2 } },
    MachineRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'states.amazonaws.com' }, Action: 'sts:AssumeRole' }] },
        Policies: [
          {
            PolicyName: 'steps',
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': ['Step', 'Arn'] } },
                { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': ['CommandQueue', 'Arn'] } },
              ],
            },
          },
        ],
      },
    },
    LambdaStep: machine(
      {
        StartAt: 'Reserve',
        States: {
          Reserve: {
            Type: 'Task',
            Resource: 'arn:aws:states:::lambda:invoke',
            Parameters: { FunctionName: '${StepArn}', 'Payload.$': '$' },
            ResultSelector: { 'ok.$': '$.Payload.ok' },
            ResultPath: '$.reserve',
            Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 1, MaxAttempts: 2, BackoffRate: 1 }],
            Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Release' }],
            Next: 'Done',
          },
          ...compensated,
        },
      },
      { StepArn: { 'Fn::GetAtt': ['Step', 'Arn'] } },
    ),
    CallbackStep: machine(callbackStep({ TimeoutSeconds: 3 }), { CommandQueueUrl: { Ref: 'CommandQueue' } }),
    HeartbeatStep: machine(callbackStep({ TimeoutSeconds: 15, HeartbeatSeconds: 1 }), { CommandQueueUrl: { Ref: 'CommandQueue' } }),
    WaitOneSecond: machine({ StartAt: 'Wait', States: { Wait: { Type: 'Wait', Seconds: 1, Next: 'Done' }, Done: { Type: 'Succeed' } } }),
    MachineTimeout: machine({ TimeoutSeconds: 1, StartAt: 'Wait', States: { Wait: { Type: 'Wait', Seconds: 15, Next: 'Done' }, Done: { Type: 'Succeed' } } }),
  },
};

const CommandMessage = z.object({ taskToken: z.string().min(1), transferId: z.string() });

describe('Step Functions as a saga orchestrator (conformance)', () => {
  const sqs = new SQSClient({});
  const arn = (logicalId: string) => resources.get(logicalId) ?? '';
  const resources = scratchStack('conf-sfn', template);

  /** The command the execution for `transferId` sent to the queue (others' messages are left alone). */
  async function commandFor(transferId: string): Promise<z.infer<typeof CommandMessage>> {
    const queueUrl = arn('CommandQueue');
    const found = await eventually(
      async () => {
        const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
        for (const m of Messages) {
          const command = CommandMessage.parse(JSON.parse(m.Body ?? ''));
          if (command.transferId === transferId) {
            await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
            return command;
          }
        }
        return undefined;
      },
      (c) => c !== undefined,
      { what: `the command of ${transferId}`, timeoutMs: 20_000 },
    );
    return found!;
  }

  it('runs a Task that invokes a Lambda function and continues with its result', async () => {
    const execution = await finished(await start(arn('LambdaStep'), { transferId: 't1', fail: false }));

    expect(execution.status).toBe('SUCCEEDED');
    expect(JSON.parse(execution.output ?? '{}')).toMatchObject({ transferId: 't1', reserve: { ok: true } });
  });

  it('retries a failing Lambda task MaxAttempts times, then Catch routes to the compensation', async () => {
    const executionArn = await start(arn('LambdaStep'), { transferId: 't2', fail: true });

    const execution = await finished(executionArn);

    expect(execution).toMatchObject({ status: 'FAILED', error: 'TransferCompensated' });
    const types = await historyTypes(executionArn);
    expect(types.filter((t) => t === 'TaskScheduled')).toHaveLength(3); // the first attempt + 2 retries
    expect(types).toContain('PassStateEntered'); // Release, the compensation
  });

  it('waitForTaskToken: the command carries a token; SendTaskSuccess resumes the execution with the answer', async () => {
    const executionArn = await start(arn('CallbackStep'), { transferId: 't3' });
    const { taskToken } = await commandFor('t3');

    await sfn('SendTaskSuccess', { taskToken, output: JSON.stringify({ reserved: 42 }) }, Empty);

    const execution = await finished(executionArn);
    expect(execution.status).toBe('SUCCEEDED');
    expect(JSON.parse(execution.output ?? '{}')).toMatchObject({ reserve: { reserved: 42 } });
  });

  it('waitForTaskToken: SendTaskFailure is caught and compensated', async () => {
    const executionArn = await start(arn('CallbackStep'), { transferId: 't4' });
    const { taskToken } = await commandFor('t4');

    await sfn('SendTaskFailure', { taskToken, error: 'InsufficientFunds', cause: 'balance too low' }, Empty);

    const execution = await finished(executionArn);
    expect(execution).toMatchObject({ status: 'FAILED', error: 'TransferCompensated' });
    expect(await historyTypes(executionArn)).toContain('PassStateEntered');
  });

  it("a step nobody answers times out after the task's TimeoutSeconds (States.Timeout, caught)", async () => {
    const executionArn = await start(arn('CallbackStep'), { transferId: 't5' });

    const execution: Execution = await finished(executionArn);

    expect(execution).toMatchObject({ status: 'FAILED', error: 'TransferCompensated' });
    expect(execution.stopDate! - execution.startDate).toBeGreaterThanOrEqual(3);
  });

  it('a Wait state waits its Seconds', async () => {
    const execution = await finished(await start(arn('WaitOneSecond'), {}));

    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.stopDate! - execution.startDate).toBeGreaterThanOrEqual(1);
  });

  // Both wait out a timeout the emulator never enforces: side by side.
  describe.concurrent('timeouts the emulator ignores', () => {
    knownGap(
      'a task without a heartbeat for HeartbeatSeconds fails with States.HeartbeatTimeout (MiniStack ignores HeartbeatSeconds and waits for TimeoutSeconds)',
      'the saga does not use Step Functions; its step timeouts are delayed SQS messages (functions/toolkit/saga)',
      async () => {
        const executionArn = await start(arn('HeartbeatStep'), { transferId: 't6' });

        const execution = await finished(executionArn, 8_000);

        expect(execution.status).toBe('FAILED');
        expect(await historyTypes(executionArn)).toContain('TaskTimedOut');
      },
      30_000,
    );

    knownGap(
      "the state machine's own TimeoutSeconds ends an execution as TIMED_OUT (MiniStack ignores it)",
      'the saga does not use Step Functions; a saga instance ends by its steps timing out',
      async () => {
        const execution = await finished(await start(arn('MachineTimeout'), {}), 8_000);

        expect(execution.status).toBe('TIMED_OUT');
      },
      30_000,
    );
  });
});

// What the DynamoDB saga relies on instead: step timeouts are messages sent with a per-message delay
// to a standard queue (a FIFO queue accepts no per-message delay, on AWS as here).
describe('SQS per-message DelaySeconds, for saga step timeouts (conformance)', () => {
  const sqs = new SQSClient({});

  it('a message sent with DelaySeconds to a standard queue is invisible until the delay has passed', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: unique('conf-delay') }));
    const sentAt = Date.now();

    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'timeout', DelaySeconds: 3 }));

    const early = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1 }));
    expect(early.Messages ?? []).toHaveLength(0);
    const late = await eventually(
      async () => (await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1 }))).Messages ?? [],
      (m) => m.length > 0,
      { what: 'the delayed message', timeoutMs: 15_000 },
    );
    expect(late[0]?.Body).toBe('timeout');
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(2_900);
  });

  it('a FIFO queue refuses a per-message DelaySeconds', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${unique('conf-delay')}.fifo`, Attributes: { FifoQueue: 'true' } }));

    await expect(
      sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'timeout', DelaySeconds: 3, MessageGroupId: 'g', MessageDeduplicationId: 'd' })),
    ).rejects.toThrow(/DelaySeconds/);
  });
});

// ---------------------------------------------------------------------------------------------
// Durability across a restart of the emulator. The shared local cloud must never be stopped, so
// this starts a private copy of the pinned MiniStack (same venv, same launcher) on a free loopback
// port with PERSIST_STATE=1, restarts it, and looks at what came back. Only meaningful for the
// embedded MiniStack: with another endpoint there is no emulator process of ours to restart.
// ---------------------------------------------------------------------------------------------

const PYTHON = path.join(ROOT, '.local', 'venv', 'bin', 'python');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

class PrivateMiniStack {
  private child: ChildProcess | undefined;
  constructor(
    readonly port: number,
    private readonly stateDir: string,
  ) {}
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    this.child = spawn(PYTHON, [path.join(ROOT, 'localstack', 'run_ministack.py')], {
      cwd: this.stateDir,
      detached: true,
      stdio: 'ignore',
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: this.stateDir,
        GATEWAY_PORT: String(this.port),
        BIND_HOST: '127.0.0.1',
        MINISTACK_HOST: '127.0.0.1',
        MINISTACK_REGION: REGION,
        IOT_MTLS_ENABLED: '0',
        SFTP_ENABLED: '0',
        PERSIST_STATE: '1',
        STATE_DIR: path.join(this.stateDir, 'state'),
        S3_DATA_DIR: path.join(this.stateDir, 's3'),
        TMPDIR: this.stateDir,
      },
    });
    await waitUntilHealthy(this.endpoint);
  }
  /** SIGTERM to its process group (it saves its state on a clean shutdown), then waits for the exit. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child?.pid || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(-child.pid, 'SIGTERM');
    const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

describe.runIf(isMiniStack && existsSync(PYTHON))('after a restart of the emulator (pinned MiniStack, PERSIST_STATE=1)', () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'sfn-restart-'));
  let emulator: PrivateMiniStack;
  const clientConfig = () => ({ endpoint: emulator.endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const before: { executionArn?: string; queueUrl?: string } = {};

  beforeAll(async () => {
    emulator = new PrivateMiniStack(await freePort(), stateDir);
    await emulator.start();
    // Before: a saga-like execution parked in a long Wait, a saga item in DynamoDB, a delayed timeout message.
    const definition = JSON.stringify({ StartAt: 'Wait', States: { Wait: { Type: 'Wait', Seconds: 600, Next: 'Done' }, Done: { Type: 'Succeed' } } });
    const { stateMachineArn } = await sfn(
      'CreateStateMachine',
      { name: 'parked', definition, roleArn: 'arn:aws:iam::000000000000:role/states' },
      z.object({ stateMachineArn: z.string() }),
      emulator.endpoint,
    );
    before.executionArn = await start(stateMachineArn, {}, emulator.endpoint);
    expect((await describeExecution(before.executionArn, emulator.endpoint)).status).toBe('RUNNING');
    const ddb = new DynamoDBClient(clientConfig());
    await ddb.send(
      new CreateTableCommand({ TableName: 'sagas', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }),
    );
    await ddb.send(new PutItemCommand({ TableName: 'sagas', Item: { pk: { S: 'SAGA#1' }, status: { S: 'waiting' } } }));
    const sqs = new SQSClient(clientConfig());
    before.queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'saga-timeouts' }))).QueueUrl;
    await sqs.send(new SendMessageCommand({ QueueUrl: before.queueUrl, MessageBody: 'timeout SAGA#1', DelaySeconds: 5 }));

    await emulator.stop();
    await emulator.start();
  }, 120_000);
  afterAll(async () => {
    await emulator.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('KNOWN GAP on MiniStack: a RUNNING execution does not survive; it is FAILED with States.ServiceRestart (on AWS it keeps running)', async () => {
    const execution = await describeExecution(before.executionArn!, emulator.endpoint);

    expect(execution).toMatchObject({ status: 'FAILED', error: 'States.ServiceRestart' });
  });

  it('a DynamoDB item and a delayed SQS message survive, so a saga made of them resumes', async () => {
    const item = await new DynamoDBClient(clientConfig()).send(new GetItemCommand({ TableName: 'sagas', Key: { pk: { S: 'SAGA#1' } } }));
    const sqs = new SQSClient(clientConfig());
    const messages = await eventually(
      async () => (await sqs.send(new ReceiveMessageCommand({ QueueUrl: before.queueUrl, WaitTimeSeconds: 1 }))).Messages ?? [],
      (m) => m.length > 0,
      { what: 'the delayed timeout message after the restart', timeoutMs: 20_000 },
    );

    expect(item.Item?.status).toEqual({ S: 'waiting' });
    expect(messages[0]?.Body).toBe('timeout SAGA#1');
  });
});
