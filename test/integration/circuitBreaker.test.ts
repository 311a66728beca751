import { DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  GetEventSourceMappingCommand,
  GetFunctionConfigurationCommand,
  InvokeCommand,
  LambdaClient,
  UpdateEventSourceMappingCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, PurgeQueueCommand, SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoCircuitStore, type CircuitRecovery, type CircuitState } from '../../functions/toolkit/consumer';
import { buildEvent, newEventId, newTraceparent, type EventEnvelope } from '../../functions/toolkit/envelope';
import { eventually, unique } from '../support/eventually';
import { stackOutputs } from '../support/outputs';
import { CIRCUIT_TEST_SOURCE, DOWNSTREAM_CALL_REQUESTED, type DownstreamCallRequested } from './consumer/circuitEvents';
import { TEST_SOURCE } from './consumer/ConsumerTestStack';
import { EFFECT_REQUESTED } from './consumer/effectEvents';

const ddb = new DynamoDBClient({});
const sqs = new SQSClient({});
const lambda = new LambdaClient({});
let out: Record<string, string>;
let circuits: DynamoCircuitStore;

const callRequested = (downstream: string, label: string): EventEnvelope<DownstreamCallRequested> =>
  buildEvent({ id: newEventId(), source: CIRCUIT_TEST_SOURCE, type: DOWNSTREAM_CALL_REQUESTED, subject: label, sequence: 1, time: new Date(), traceparent: newTraceparent(), data: { downstream, label } });

async function item(pk: string): Promise<Record<string, any> | undefined> {
  const got = await ddb.send(new GetItemCommand({ TableName: out.EffectsTableName, Key: marshall({ pk }), ConsistentRead: true }));
  return got.Item ? unmarshall(got.Item) : undefined;
}
/** Deliveries of an event to the guarded consumer: the attempt, and the process (worker) that handled it. */
const seen = async (event: EventEnvelope): Promise<Array<{ attempt: number; worker: string }>> => (await item(`seen#${event.id}`))?.log ?? [];
const applied = async (event: EventEnvelope): Promise<number> => (await item(`applied#${event.id}`))?.count ?? 0;
/** Calls the fake downstream received. */
const downstreamCalls = async (name: string): Promise<number> => (await item(`downstream#${name}`))?.calls ?? 0;
const setDownstream = (name: string, status: 'up' | 'down') =>
  ddb.send(new UpdateItemCommand({ TableName: out.EffectsTableName, Key: marshall({ pk: `downstream#${name}` }), UpdateExpression: 'SET #status = :status', ExpressionAttributeNames: { '#status': 'status' }, ExpressionAttributeValues: marshall({ ':status': status }) }));

const circuitState = async (name: string): Promise<CircuitState> => (await circuits.load(name)).state;
const mappingState = async (): Promise<string | undefined> => (await lambda.send(new GetEventSourceMappingCommand({ UUID: out.GuardedMappingId }))).State;
async function queueDepth(): Promise<{ visible: number; inFlight: number }> {
  const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: out.GuardedQueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return { visible: Number(Attributes.ApproximateNumberOfMessages), inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible) };
}

/** Invokes a function synchronously and returns its result. */
async function invoke<T>(functionName: string, payload: unknown): Promise<T> {
  const response = await lambda.send(new InvokeCommand({ FunctionName: functionName, Payload: JSON.stringify(payload) }));
  const body = Buffer.from(response.Payload ?? []).toString();
  if (response.FunctionError) throw new Error(`${functionName} failed: ${body}`);
  return JSON.parse(body) as T;
}

/** An SQS event as the mapping would deliver it, for invoking the consumer directly. */
const sqsEvent = (event: EventEnvelope, messageId: string): SQSEvent => ({
  Records: [
    {
      messageId,
      receiptHandle: `direct-invoke-${messageId}`,
      body: JSON.stringify(event),
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()), SenderId: 'test', ApproximateFirstReceiveTimestamp: String(Date.now()) },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: out.GuardedQueueArn!,
      awsRegion: 'us-east-1',
    },
  ],
});

describe('a consumer with a circuit breaker, on the local cloud', () => {
  let originalEnvironment: Record<string, string> = {};

  beforeAll(async () => {
    out = stackOutputs('ConsumerTest');
    circuits = new DynamoCircuitStore(ddb, out.GuardedStateTableName!);
    // A run that failed half-way may have left the mapping disabled, or messages behind.
    await lambda.send(new UpdateEventSourceMappingCommand({ UUID: out.GuardedMappingId, Enabled: true }));
    await eventually(mappingState, (s) => s === 'Enabled', { what: 'the mapping enabled' });
    await sqs.send(new PurgeQueueCommand({ QueueUrl: out.GuardedQueueUrl }));
    originalEnvironment = (await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: out.GuardedFunctionName }))).Environment?.Variables ?? {};
  });
  afterAll(async () => {
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: out.GuardedFunctionName, Environment: { Variables: originalEnvironment } }));
    // After a failed run, messages for a downstream left down would bounce until they are dead-lettered
    // while later test files run (and count dead letters): they are dropped here.
    await sqs.send(new PurgeQueueCommand({ QueueUrl: out.GuardedQueueUrl }));
  });

  // The closer runs every minute on its schedule; the test invokes it as soon as the (10 s)
  // cool-down is over instead of waiting for it.
  it('circuit opens after K failures (mapping disabled), closes after the cool-down', async () => {
    // arrange: a downstream that is down; K = 3
    const downstream = unique('payments');
    await setDownstream(downstream, 'down');
    const failing = ['f1', 'f2', 'f3'].map((label) => callRequested(downstream, label));

    // act 1: three calls fail
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: out.GuardedQueueUrl, Entries: failing.map((event, i) => ({ Id: String(i), MessageBody: JSON.stringify(event) })) }));

    // assert 1: the third failure opened the circuit, and the consumer disabled its own mapping
    const opened = await eventually(() => circuitState(downstream), (s) => s.status === 'open', { what: 'the circuit open' });
    await eventually(mappingState, (s) => s === 'Disabled', { what: 'the mapping disabled' });
    const openUntil = (opened as Extract<CircuitState, { status: 'open' }>).openUntil;

    // act 2: the downstream recovers; a new message arrives while the circuit is open
    await setDownstream(downstream, 'up');
    const waiting = callRequested(downstream, 'w1');
    await sqs.send(new SendMessageCommand({ QueueUrl: out.GuardedQueueUrl, MessageBody: JSON.stringify(waiting) }));

    // assert 2: it waits in the queue, unreceived (with the three failed ones), while a control
    // message on another consumer's enabled mapping is applied meanwhile (the poller did run)
    const control = buildEvent({ id: newEventId(), source: TEST_SOURCE, type: EFFECT_REQUESTED, subject: unique('control'), sequence: 1, time: new Date(), traceparent: newTraceparent(), data: { label: 'control' } });
    await sqs.send(new SendMessageCommand({ QueueUrl: out.FanoutQueueUrl, MessageBody: JSON.stringify(control) }));
    await eventually(async () => (await item(`applied#${control.id}`))?.applied ?? 0, (n) => n === 1, { what: 'the control message applied' });
    expect(await seen(waiting)).toEqual([]);
    const depth = await queueDepth();
    expect(depth.visible + depth.inFlight).toBe(4);
    // The records of a batch are handled in parallel: a call admitted while the circuit was still
    // closed reaches the downstream even if a sibling's failure opens the circuit meanwhile. So the
    // calls are at least K = 3 and at most K - 1 earlier failures plus all three messages in the batch
    // that opened it. (Read after the control message was applied: that invocation has ended.)
    const admitted = await downstreamCalls(downstream);
    expect(admitted).toBeGreaterThanOrEqual(3);
    expect(admitted).toBeLessThanOrEqual(3 - 1 + failing.length);

    // act 3: a cold start (a configuration change replaces the workers), then a delivery straight to
    // the function while the circuit is still open
    expect(Date.now(), 'the cool-down is too short for this step').toBeLessThan(openUntil - 2000);
    const workersBefore = new Set((await Promise.all(failing.map(seen))).flat().map((s) => s.worker));
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: out.GuardedFunctionName, Environment: { Variables: { ...originalEnvironment, COLD_START: unique('cold') } } }));
    await eventually(async () => (await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: out.GuardedFunctionName }))).LastUpdateStatus, (s) => s === 'Successful', { what: 'the configuration updated' });
    const direct = callRequested(downstream, 'direct');
    const response = await invoke<SQSBatchResponse>(out.GuardedFunctionName!, sqsEvent(direct, unique('direct')));

    // assert 3: a new worker read the open state: the call was refused without reaching the downstream
    const [directDelivery] = await seen(direct);
    expect(directDelivery?.worker).toBeDefined();
    expect(workersBefore.has(directDelivery!.worker)).toBe(false);
    expect(response.batchItemFailures).toHaveLength(1);
    expect(await applied(direct)).toBe(0);
    expect(await downstreamCalls(downstream)).toBe(admitted);
    expect(await circuitState(downstream)).toEqual(opened);

    // act 4: once the cool-down is over, the closer runs (invoked here rather than awaited)
    await eventually(async () => Date.now(), (now) => now >= openUntil, { what: 'the cool-down over', timeoutMs: 30_000 });
    const stateBeforeCloser = await circuitState(downstream);
    const recovery = await invoke<CircuitRecovery>(out.GuardedCloserFunctionName!, {});

    // assert 4: half-open and resumed (unless the schedule's run came first); then the waiting and the
    // retried messages succeed, the first success closes the circuit, and each is applied once
    if (stateBeforeCloser.status === 'open') expect(recovery).toEqual({ halfOpened: expect.arrayContaining([downstream]), resumed: true });
    await eventually(mappingState, (s) => s === 'Enabled', { what: 'the mapping enabled again' });
    for (const event of [...failing, waiting]) await eventually(() => applied(event), (n) => n >= 1, { what: `${event.data.label} applied` });
    await eventually(() => circuitState(downstream), (s) => s.status === 'closed', { what: 'the circuit closed' });
    await eventually(queueDepth, (d) => d.visible + d.inFlight === 0, { what: 'the queue drained' });
    for (const event of [...failing, waiting]) expect(await applied(event)).toBe(1);
    expect((await seen(waiting)).map((s) => s.attempt)).toEqual([1]); // it waited: no delivery spent
    expect(await downstreamCalls(downstream)).toBe(admitted + 4);
  });
});
