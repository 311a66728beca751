import { GetEventSourceMappingCommand, LambdaClient, ListEventSourceMappingsCommand, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, unique } from '../support/eventually';
import { arrivals, probe, sendFifo } from './probeLog';

// AWS behaviour the circuit breaker relies on: a function finds its mapping on a queue with
// ListEventSourceMappings filtered by function name and queue ARN; the mapping reports the function's
// unqualified ARN (what the lambda:FunctionArn condition key of UpdateEventSourceMapping compares) and
// its own ARN (arn:…:event-source-mapping:<UUID>, the IAM resource); UpdateEventSourceMapping
// Enabled=false stops polling, so messages wait in the queue without being received; Enabled=true
// resumes, and what waited is delivered on its first receive.
describe('Lambda event-source mapping on SQS, disabled and enabled (conformance)', () => {
  const lambda = new LambdaClient({});
  const sqs = new SQSClient({});
  let out: Record<string, string>;

  const state = async () => (await lambda.send(new GetEventSourceMappingCommand({ UUID: out.SwitchedMappingId }))).State;
  const setEnabled = (enabled: boolean) => lambda.send(new UpdateEventSourceMappingCommand({ UUID: out.SwitchedMappingId, Enabled: enabled }));
  const depth = async () => {
    const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: out.SwitchedQueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
    return { visible: Number(Attributes.ApproximateNumberOfMessages), inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible) };
  };

  beforeAll(async () => {
    out = probe();
    await setEnabled(true);
    await eventually(state, (s) => s === 'Enabled', { what: 'the mapping enabled', timeoutMs: 60_000 });
  });
  afterAll(async () => {
    await setEnabled(true);
  });

  it('is found by function name and queue ARN, with the function ARN and its own ARN', async () => {
    const { EventSourceMappings = [] } = await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: out.ProbeFunctionName, EventSourceArn: out.SwitchedQueueArn }));

    expect(EventSourceMappings.map((m) => m.UUID)).toEqual([out.SwitchedMappingId]);
    expect(EventSourceMappings[0]).toMatchObject({
      EventSourceArn: out.SwitchedQueueArn,
      FunctionArn: out.ProbeFunctionArn,
      EventSourceMappingArn: expect.stringMatching(new RegExp(`^arn:aws:lambda:[a-z0-9-]+:\\d{12}:event-source-mapping:${out.SwitchedMappingId}$`)),
    });
  });

  it('stops polling when disabled: messages wait in the queue, unreceived; enabled again, each is delivered on its first receive', async () => {
    // arrange
    const items = [unique('waiting'), unique('waiting')];

    // act: disable, then send
    await setEnabled(false);
    await eventually(state, (s) => s === 'Disabled', { what: 'the mapping disabled', timeoutMs: 60_000 });
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: out.SwitchedQueueUrl, Entries: items.map((item, i) => ({ Id: String(i), MessageBody: JSON.stringify({ item }) })) }));

    // assert: both visible, never received, while a control message on an enabled mapping of the
    // same function is delivered meanwhile (so the pollers did run)
    const control = unique('control');
    await sendFifo(control, 'c');
    await eventually(() => arrivals(`fifo#${control}`), (a) => a.length === 1, { what: 'the control message delivered' });
    expect(await depth()).toEqual({ visible: 2, inFlight: 0 });
    expect((await arrivals('sqs#standard')).filter((a) => items.includes(a.item))).toEqual([]);

    // act: enable
    await setEnabled(true);
    await eventually(state, (s) => s === 'Enabled', { what: 'the mapping enabled', timeoutMs: 60_000 });

    // assert: both delivered once, on their first receive; the queue is empty
    const got = await eventually(
      async () => (await arrivals('sqs#standard')).filter((a) => items.includes(a.item)),
      (a) => a.length === 2,
      { what: 'both messages delivered' },
    );
    expect(got.map((a) => a.receiveCount)).toEqual([1, 1]);
    await eventually(depth, (d) => d.visible === 0 && d.inFlight === 0, { what: 'the queue drained' });
  });
});
