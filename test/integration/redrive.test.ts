import { DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { LambdaClient, ListEventSourceMappingsCommand, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { ParkedGroups } from '../../functions/toolkit/consumer';
import { buildEvent, newEventId, newTraceparent, type EventEnvelope } from '../../functions/toolkit/envelope';
import { discoverDeadLetterQueues, peekMessages, redrive, RedriveInterruptedError } from '../../functions/toolkit/redrive';
import { eventually, unique } from '../support/eventually';
import { stackOutputs } from '../support/outputs';
import { TEST_SOURCE } from './consumer/ConsumerTestStack';
import { EFFECT_REQUESTED } from './consumer/effectEvents';

const ddb = new DynamoDBClient({});
const sqs = new SQSClient({});
let out: Record<string, string>;

const effect = (label: string, subject: string, sequence: number): EventEnvelope<{ label: string }> =>
  buildEvent({ id: newEventId(), source: TEST_SOURCE, type: EFFECT_REQUESTED, subject, sequence, time: new Date(), traceparent: newTraceparent(), data: { label } });

async function send(queueUrl: string, event: EventEnvelope, fifo: boolean): Promise<void> {
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(event), ...(fifo ? { MessageGroupId: event.partitionkey, MessageDeduplicationId: event.id } : {}) }));
}
const setBroken = (label: string, broken: boolean) =>
  broken
    ? ddb.send(new PutItemCommand({ TableName: out.EffectsTableName, Item: marshall({ pk: `broken#${label}` }) }))
    : ddb.send(new DeleteItemCommand({ TableName: out.EffectsTableName, Key: marshall({ pk: `broken#${label}` }) }));
async function item(pk: string): Promise<Record<string, any> | undefined> {
  const got = await ddb.send(new GetItemCommand({ TableName: out.EffectsTableName, Key: marshall({ pk }), ConsistentRead: true }));
  return got.Item ? unmarshall(got.Item) : undefined;
}
const appliedOrder = async (subject: string): Promise<string[]> => ((await item(`order#${subject}`))?.appliedLog ?? []).map((e: { label: string }) => e.label);
const depth = async (url: string) => {
  const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible);
};
/** The DLQ messages of one group, in the queue's order, without consuming them. */
const dlqOf = async (url: string, subject: string) =>
  (await peekMessages(sqs, url, 50)).filter((m) => m.Body?.includes(subject)).map((m) => [JSON.parse(m.Body!).data.label, m.MessageAttributes?.errorName?.StringValue]);

/** Stops or starts the ordered consumer's mapping (messages wait in the queue meanwhile), once it says so. */
async function setConsuming(enabled: boolean): Promise<void> {
  const lambda = new LambdaClient({});
  const [mapping] = (await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: out.OrderedFunctionName }))).EventSourceMappings ?? [];
  await lambda.send(new UpdateEventSourceMappingCommand({ UUID: mapping!.UUID!, Enabled: enabled }));
  await eventually(async () => (await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: out.OrderedFunctionName }))).EventSourceMappings?.[0]?.State, (state) => state === (enabled ? 'Enabled' : 'Disabled'), { what: `the mapping ${enabled ? 'enabled' : 'disabled'}` });
}
const visible = async (url: string) => {
  const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }));
  return Number(Attributes.ApproximateNumberOfMessages);
};

beforeAll(() => {
  out = stackOutputs('ConsumerTest');
});

describe('order-preserving dead-lettering and redrive, on the local cloud', () => {
  it('parks a FIFO group behind its dead letter, keeps other groups going, and redrives the group in order', async () => {
    // arrange: group G's second event cannot be applied (its downstream is broken); group H is fine
    const g = unique('G');
    const h = unique('H');
    const [g1, g2, g3, g4, g5, g6] = [1, 2, 3, 4, 5, 6].map((n) => effect(`${g}-${n}`, g, n));
    await setBroken(g2!.data.label, true);

    // act 1: g2 fails on every attempt, is dead-lettered and parks G; g3, g4 follow it into the DLQ
    for (const event of [g1, g2, g3, g4]) await send(out.OrderedQueueUrl!, event!, true);
    for (const n of [1, 2]) await send(out.OrderedQueueUrl!, effect(`${h}-${n}`, h, n), true);
    await eventually(() => dlqOf(out.OrderedDeadLetterQueueUrl!, g), (m) => m.length === 3, { what: 'g2, g3, g4 in the DLQ', timeoutMs: 60_000 });

    // assert 1
    expect(await dlqOf(out.OrderedDeadLetterQueueUrl!, g)).toEqual([
      [g2!.data.label, 'Error'],
      [g3!.data.label, 'GroupParkedError'],
      [g4!.data.label, 'GroupParkedError'],
    ]);
    expect(await appliedOrder(g)).toEqual([g1!.data.label]);
    expect(await appliedOrder(h)).toEqual([`${h}-1`, `${h}-2`]);
    const parked = new ParkedGroups(ddb, out.OrderedStateTableName!);
    expect((await parked.get(g))?.reason).toMatch(/downstream broken/);

    // act 2: a live event while parked is diverted too; then the cause is fixed and the DLQ redriven
    await send(out.OrderedQueueUrl!, g5!, true);
    await eventually(() => dlqOf(out.OrderedDeadLetterQueueUrl!, g), (m) => m.length === 4, { what: 'g5 diverted behind the others' });
    await setBroken(g2!.data.label, false);
    const report = await redrive({ sqs, deadLetterQueueUrl: out.OrderedDeadLetterQueueUrl!, sourceQueueUrl: out.OrderedQueueUrl!, parkedGroups: parked, runId: unique('run') });
    await send(out.OrderedQueueUrl!, g6!, true);

    // assert 2: the group is applied in its original order, each event once, and un-parked
    // (the DLQ is shared with other tests: count this group's messages, not the total)
    expect(report).toMatchObject({ method: 'receive-send-delete', stuckGroups: [] });
    expect(report.moved).toBeGreaterThanOrEqual(4);
    expect(await dlqOf(out.OrderedDeadLetterQueueUrl!, g)).toEqual([]);
    expect(report.releasedGroups).toContain(g);
    const labels = await eventually(() => appliedOrder(g), (l) => l.length >= 6, { what: 'group G applied after redrive' });
    expect(labels).toEqual([g1, g2, g3, g4, g5, g6].map((e) => e!.data.label));
    expect(await parked.get(g)).toBeUndefined();
  });

  it('applies no live message of a group before its redriven ones, also when live messages were queued ahead of them', async () => {
    // arrange: G parks behind b2 (b3, b4 follow it into the DLQ); the cause is fixed
    const g = unique('B');
    const events = [1, 2, 3, 4, 5, 6].map((n) => effect(`${g}-${n}`, g, n));
    await setBroken(events[1]!.data.label, true);
    for (const event of events.slice(0, 4)) await send(out.OrderedQueueUrl!, event, true);
    await eventually(() => dlqOf(out.OrderedDeadLetterQueueUrl!, g), (m) => m.length === 3, { what: 'b2, b3, b4 in the DLQ', timeoutMs: 60_000 });
    await setBroken(events[1]!.data.label, false);
    // b5 and b6 arrive while the consumer is behind: they wait in the queue, ahead of anything redriven
    await setConsuming(false);
    try {
      for (const event of events.slice(4)) await send(out.OrderedQueueUrl!, event, true);
      await eventually(() => visible(out.OrderedQueueUrl!), (n) => n >= 2, { what: 'b5 and b6 waiting in the queue' });

      // act: the redrive sends b2–b4 back behind b5 and b6; the consumer catches up meanwhile
      let resumed = false;
      const report = await redrive({
        sqs,
        deadLetterQueueUrl: out.OrderedDeadLetterQueueUrl!,
        sourceQueueUrl: out.OrderedQueueUrl!,
        parkedGroups: new ParkedGroups(ddb, out.OrderedStateTableName!),
        runId: unique('run'),
        visibilityTimeoutSeconds: 5,
        onProgress: ({ step }) => {
          if (!resumed && step.startsWith('waiting for')) {
            resumed = true;
            void setConsuming(true);
          }
        },
      });

      // assert: b5 and b6 were diverted behind the redriven messages, never applied before them
      expect(report.releasedGroups).toContain(g);
      expect(report.stuckGroups).toEqual([]);
      const labels = await eventually(() => appliedOrder(g), (l) => l.length >= 6, { what: 'group B applied after redrive' });
      expect(labels).toEqual(events.map((e) => e.data.label));
      expect(await dlqOf(out.OrderedDeadLetterQueueUrl!, g)).toEqual([]);
      expect(await new ParkedGroups(ddb, out.OrderedStateTableName!).get(g)).toBeUndefined();
    } finally {
      await setConsuming(true);
    }
  });

  it('keeps a group in order when a redriven message fails again behind live messages queued ahead of it: the next redrive applies it in order', async () => {
    // arrange: F parks behind f2 (f3 follows it into the DLQ); f2's cause is not fixed yet
    const g = unique('F');
    const events = [1, 2, 3, 4, 5, 6, 7].map((n) => effect(`${g}-${n}`, g, n));
    const label = (n: number) => events[n - 1]!.data.label;
    await setBroken(label(2), true);
    for (const event of events.slice(0, 3)) await send(out.OrderedQueueUrl!, event, true);
    await eventually(() => dlqOf(out.OrderedDeadLetterQueueUrl!, g), (m) => m.length === 2, { what: 'f2, f3 in the DLQ', timeoutMs: 60_000 });
    const parked = new ParkedGroups(ddb, out.OrderedStateTableName!);
    const options = { sqs, deadLetterQueueUrl: out.OrderedDeadLetterQueueUrl!, sourceQueueUrl: out.OrderedQueueUrl!, parkedGroups: parked, visibilityTimeoutSeconds: 5 };
    // f4 and f5 arrive while the consumer is behind: queued ahead of anything redriven
    await setConsuming(false);
    try {
      for (const event of events.slice(3, 5)) await send(out.OrderedQueueUrl!, event, true);
      await eventually(() => visible(out.OrderedQueueUrl!), (n) => n >= 2, { what: 'f4 and f5 waiting in the queue' });

      // act 1: the redrive sends f2, f3 back behind f4 and f5 (diverted on arrival); f2 fails again
      let resumed = false;
      const resume = ({ step }: { step: string }) => {
        if (!resumed && step.startsWith('waiting for')) {
          resumed = true;
          void setConsuming(true);
        }
      };
      const first = await redrive({ ...options, runId: unique('run'), onProgress: resume });

      // assert 1: the group is left parked, nothing after f1 applied (not f3, redriven behind the failed f2)
      expect(first.stuckGroups.map((s) => s.group)).toContain(g);
      expect(await appliedOrder(g)).toEqual([label(1)]);

      // act 2: the cause is fixed, f6 arrives (diverted), and the operator redrives again; then f7
      await setBroken(label(2), false);
      await send(out.OrderedQueueUrl!, events[5]!, true);
      await eventually(async () => (await parked.get(g))?.diverted, (n) => (n ?? 0) >= 3, { what: 'f6 diverted behind the parked group' });
      const second = await redrive({ ...options, runId: unique('run') });
      await send(out.OrderedQueueUrl!, events[6]!, true);

      // assert 2: every event applied once, in the group's order; nothing left in the DLQ, the park lifted
      expect(second.stuckGroups.map((s) => s.group)).not.toContain(g);
      expect(second.releasedGroups).toContain(g);
      const labels = await eventually(() => appliedOrder(g), (l) => l.length >= 7, { what: 'group F applied after the second redrive' });
      expect(labels).toEqual(events.map((e) => e.data.label));
      expect(await dlqOf(out.OrderedDeadLetterQueueUrl!, g)).toEqual([]);
      expect(await parked.get(g)).toBeUndefined();
    } finally {
      await setConsuming(true);
    }
  });

  it('finishes an interrupted FIFO redrive on a re-run, with nothing lost and nothing applied twice', async () => {
    // arrange: three events of one group in the DLQ (the first failed, the others followed it)
    const g = unique('I');
    const events = [1, 2, 3].map((n) => effect(`${g}-${n}`, g, n));
    await setBroken(events[0]!.data.label, true);
    for (const event of events) await send(out.OrderedQueueUrl!, event, true);
    await eventually(() => dlqOf(out.OrderedDeadLetterQueueUrl!, g), (m) => m.length === 3, { what: 'the group in the DLQ', timeoutMs: 60_000 });
    await setBroken(events[0]!.data.label, false);
    const parked = new ParkedGroups(ddb, out.OrderedStateTableName!);
    const options = { sqs, deadLetterQueueUrl: out.OrderedDeadLetterQueueUrl!, sourceQueueUrl: out.OrderedQueueUrl!, parkedGroups: parked, visibilityTimeoutSeconds: 2 };

    // act: stop right after the second message was sent back, before it was deleted from the DLQ
    const controller = new AbortController();
    let sent = 0;
    const interrupted = await redrive({ ...options, runId: unique('run'), signal: controller.signal, onProgress: ({ step }) => step === 'sent' && ++sent === 2 && controller.abort() }).catch((e: unknown) => e);
    expect(interrupted).toBeInstanceOf(RedriveInterruptedError);
    const rerun = await redrive({ ...options, runId: unique('run') });
    expect(rerun.releasedGroups).toContain(g);

    // assert
    const labels = await eventually(() => appliedOrder(g), (l) => l.length >= 3, { what: 'the group applied' });
    expect(labels).toEqual(events.map((e) => e.data.label));
    expect(await dlqOf(out.OrderedDeadLetterQueueUrl!, g)).toEqual([]);
  });

  it('redrives a standard queue by receive/send/delete where StartMessageMoveTask is missing, surviving an interruption', async () => {
    // arrange: two events dead-lettered after their attempts
    const s = unique('S');
    const events = [1, 2].map((n) => effect(`${s}-${n}`, `${s}-${n}`, 1));
    for (const event of events) await setBroken(event.data.label, true);
    for (const event of events) await send(out.FanoutQueueUrl!, event, false);
    await eventually(() => dlqOf(out.FanoutDeadLetterQueueUrl!, s), (m) => m.length === 2, { what: 'both in the DLQ', timeoutMs: 60_000 });
    for (const event of events) await setBroken(event.data.label, false);
    const options = { sqs, deadLetterQueueUrl: out.FanoutDeadLetterQueueUrl!, sourceQueueUrl: out.FanoutQueueUrl!, visibilityTimeoutSeconds: 2 };

    // act: interrupted after the first send (a duplicate will reach the queue), then run again
    const controller = new AbortController();
    await redrive({ ...options, runId: unique('run'), signal: controller.signal, onProgress: ({ step }) => step === 'sent' && controller.abort() }).catch(() => undefined);
    await eventually(async () => (await dlqOf(out.FanoutDeadLetterQueueUrl!, s)).length, (n) => n === 2, { what: 'the interrupted message visible again' });
    const report = await redrive({ ...options, runId: unique('run') });

    // assert: each applied exactly once, though the first was sent twice
    expect(report.method).toBe('receive-send-delete');
    for (const event of events) {
      await eventually(() => appliedOrder(event.subject), (l) => l.length >= 1, { what: `${event.data.label} applied` });
    }
    await eventually(() => depth(out.FanoutQueueUrl!), (n) => n === 0, { what: 'the source queue drained' });
    for (const event of events) expect(await appliedOrder(event.subject)).toEqual([event.data.label]);
  });

  it('discovers the deployment’s dead-letter queues with their source queues and state tables', async () => {
    const queues = await discoverDeadLetterQueues(sqs, new LambdaClient({}));
    expect(queues).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ url: out.OrderedDeadLetterQueueUrl, kind: 'consumer', sourceQueueUrl: out.OrderedQueueUrl, stateTableName: out.OrderedStateTableName }),
        expect.objectContaining({ url: out.FanoutDeadLetterQueueUrl, kind: 'consumer', sourceQueueUrl: out.FanoutQueueUrl }),
        expect.objectContaining({ kind: 'relay' }),
      ]),
    );
  });
});
