import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildEvent, newEventId, newTraceparent, type EventEnvelope } from '../../functions/toolkit/envelope';
import { Outbox } from '../../functions/toolkit/outbox';
import { eventually, unique } from '../support/eventually';
import { stackOutputs } from '../support/outputs';
import { LEGACY_TEST_SOURCE, TEST_SOURCE } from './consumer/ConsumerTestStack';
import { EFFECT_REQUESTED } from './consumer/effectEvents';

const ddb = new DynamoDBClient({});
const sqs = new SQSClient({});
let out: Record<string, string>;

interface EffectData {
  label: string;
  failTimes?: number;
  poison?: boolean;
  crashAfterEffect?: boolean;
}

function effectEvent(data: EffectData, subject = unique('s'), sequence = 1, id = newEventId(), source = TEST_SOURCE): EventEnvelope<EffectData> {
  return buildEvent({ id, source, type: EFFECT_REQUESTED, subject, sequence, time: new Date(), traceparent: newTraceparent(), data });
}

/** Sends a body to a consumer queue as the relay would (FIFO: group = partition key), each send a new message. */
async function send(queueUrl: string, body: string, group?: string): Promise<void> {
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, ...(group ? { MessageGroupId: group, MessageDeduplicationId: unique('d') } : {}) }));
}

async function item(pk: string): Promise<Record<string, any> | undefined> {
  const got = await ddb.send(new GetItemCommand({ TableName: out.EffectsTableName, Key: marshall({ pk }), ConsistentRead: true }));
  return got.Item ? unmarshall(got.Item) : undefined;
}
const applied = async (id: string): Promise<number> => (await item(`applied#${id}`))?.applied ?? 0;
const seen = async (id: string): Promise<Array<{ attempt: number; requestId: string }>> => (await item(`seen#${id}`))?.seenLog ?? [];
const appliedOrder = async (subject: string): Promise<string[]> => ((await item(`order#${subject}`))?.appliedLog ?? []).map((e: { label: string }) => e.label);

/** Messages in a DLQ whose body mentions `marker`, removed from it. */
const dead = new Map<string, Message[]>();
async function deadLettered(queueUrl: string, marker: string, count = 1): Promise<Message[]> {
  await eventually(
    async () => {
      const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], WaitTimeSeconds: 1 }));
      for (const message of got.Messages ?? []) {
        for (const key of dead.keys()) if (message.Body?.includes(key)) dead.get(key)!.push(message);
        if (message.Body?.includes(marker) && !dead.has(marker)) dead.set(marker, [message]);
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle! }));
      }
      return dead.get(marker)?.length ?? 0;
    },
    (n) => n >= count,
    { what: `${count} dead-lettered message(s) with ${marker}`, timeoutMs: 60_000 },
  );
  return dead.get(marker)!;
}
/** Messages waiting or being processed. */
async function inFlight(queueUrl: string): Promise<number> {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}
const attributes = (message: Message) => Object.fromEntries(Object.entries(message.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue]));

beforeAll(() => {
  out = stackOutputs('ConsumerTest');
});

describe('an idempotent consumer on the local cloud: its effect and its inbox item in one transaction', () => {
  it('applies an event delivered 4 times, concurrently, exactly once', async () => {
    // arrange
    const event = effectEvent({ label: 'dup' });

    // act: the same event, four times at once, on the fan-out queue (standard: no deduplication)
    await Promise.all(Array.from({ length: 4 }, () => send(out.FanoutQueueUrl!, JSON.stringify(event))));

    // assert: all four deliveries reached the consumer, one effect
    await eventually(() => seen(event.id), (s) => s.length >= 1, { what: 'the event to be seen' });
    await eventually(() => applied(event.id), (n) => n >= 1, { what: 'the effect' });
    await eventually(() => inFlight(out.FanoutQueueUrl!), (n) => n === 0, { what: 'the queue to drain (duplicates retried after an in-progress clash)' });
    expect(await applied(event.id)).toBe(1);
  });

  // The two crash tests wait out a visibility timeout each, on queues of their own: side by side.
  it.concurrent('applies an event once when the consumer died after its effect and before the acknowledgement (inbox)', async () => {
    // arrange: the effect and the inbox item are written in one transaction, then the process dies
    const event = effectEvent({ label: unique('crash'), crashAfterEffect: true });

    // act
    await send(out.OrderedQueueUrl!, JSON.stringify(event), event.partitionkey);

    // assert: redelivered once its visibility timeout expired, and answered from the inbox
    await eventually(() => seen(event.id), (s) => s.length >= 2, { what: 'the redelivery after the crash', timeoutMs: 90_000 });
    await eventually(() => inFlight(out.OrderedQueueUrl!), (n) => n === 0, { what: 'the redelivered message to be acknowledged' });
    expect((await seen(event.id)).map((s) => s.attempt)).toEqual([1, 2]);
    expect(await applied(event.id)).toBe(1);
    expect(await appliedOrder(event.subject)).toEqual([event.data.label]);
  });

  it.concurrent('without the inbox (Powertools records around a plain write) the same crash applies the effect twice', async () => {
    // arrange: the record stays IN_PROGRESS when the process dies; its lease ends with the function timeout
    const event = effectEvent({ label: unique('legacy-crash'), crashAfterEffect: true }, unique('s'), 1, newEventId(), LEGACY_TEST_SOURCE);

    // act
    await send(out.LegacyQueueUrl!, JSON.stringify(event));

    // assert: the redelivery found an expired lease and applied the effect again — the window the inbox closes
    await eventually(() => applied(event.id), (n) => n >= 2, { what: 'the effect applied again after the crash', timeoutMs: 90_000 });
    await eventually(() => inFlight(out.LegacyQueueUrl!), (n) => n === 0, { what: 'the redelivered message to be acknowledged' });
    expect(await applied(event.id)).toBe(2);
  });

  it('dead-letters a reused event id with a different payload, keeping the first effect', async () => {
    // arrange
    const first = effectEvent({ label: 'original' });
    await send(out.FanoutQueueUrl!, JSON.stringify(first));
    await eventually(() => applied(first.id), (n) => n === 1, { what: 'the first event applied' });

    // act: another payload under the same id
    const impostor = { ...first, data: { label: 'impostor' } };
    await send(out.FanoutQueueUrl!, JSON.stringify(impostor));

    // assert
    const [message] = await deadLettered(out.FanoutDeadLetterQueueUrl!, 'impostor');
    expect(attributes(message!)).toMatchObject({ errorName: 'MessageIdReusedError', attemptCount: '1' });
    expect(await applied(first.id)).toBe(1);
  });

  it.each([
    ['bad JSON', () => `{"broken": "${unique('json')}`, /not valid JSON/],
    ['a wrong schema', () => JSON.stringify(effectEvent({ label: unique('schema'), failTimes: 'x' as never })), /does not match its schema: data\.failTimes/],
    ['an unknown type', () => JSON.stringify({ ...effectEvent({ label: unique('type') }), type: 'test.effect.unknown' }), /test\.effect\.unknown is not handled/],
    ['an unknown version', () => JSON.stringify({ ...effectEvent({ label: unique('version') }), dataversion: 9 }), /dataversion 9/],
    ['an event on the bus under another source', () => JSON.stringify({ version: '0', id: newEventId(), 'detail-type': EFFECT_REQUESTED, source: 'wallet.fraud', detail: effectEvent({ label: unique('forged') }) }), /with source wallet\.fraud, but the event says/],
    // Only its producer's relay writes to an ordered queue; an event of another source on it is forged.
    ['an event from a source the consumer does not subscribe to', () => JSON.stringify(effectEvent({ label: unique('forged') }, unique('s'), 1, newEventId(), 'wallet.fraud')), /from source wallet\.fraud, which this consumer does not subscribe to \(it takes test\.consumers\)/],
  ])('dead-letters %s on the first attempt, with the reason', async (_name, body, reason) => {
    // arrange
    const message = body();
    const marker = message.match(/(json|schema|type|version|forged)-[a-z0-9-]+/)![0];

    // act
    await send(out.OrderedQueueUrl!, message, unique('g'));

    // assert
    const [deadLetter] = await deadLettered(out.OrderedDeadLetterQueueUrl!, marker);
    expect(attributes(deadLetter!)).toMatchObject({ errorName: 'PoisonMessageError', attemptCount: '1' });
    expect(attributes(deadLetter!).errorMessage).toMatch(reason);
    expect(deadLetter!.Body).toBe(message);
  });

  it('holds back a FIFO group behind its failing message, lets other groups go on, and applies it once after backoff', async () => {
    // arrange: group G's second event fails twice, then heals; group H is fine
    const g = unique('G');
    const h = unique('H');
    const events = [
      ...[{ label: 'g1' }, { label: 'g2', failTimes: 2 }, { label: 'g3' }].map((data, i) => effectEvent(data, g, i + 1)),
      ...[{ label: 'h1' }, { label: 'h2' }, { label: 'h3' }].map((data, i) => effectEvent(data, h, i + 1)),
    ];

    // act
    for (const event of events) await send(out.OrderedQueueUrl!, JSON.stringify(event), event.partitionkey);

    // assert: H is never held back by G (each of its events applied on its first delivery; when G's
    // retries happen is the backoff's full jitter, so not asserted); G ends in order with g2 applied
    // once, on its third delivery
    await eventually(() => appliedOrder(h), (labels) => labels.length === 3, { what: 'group H applied' });
    for (const event of events.slice(3)) expect((await seen(event.id)).map((s) => s.attempt)).toEqual([1]);
    await eventually(() => appliedOrder(g), (labels) => labels.length === 3, { what: 'group G applied', timeoutMs: 60_000 });
    expect(await appliedOrder(g)).toEqual(['g1', 'g2', 'g3']);
    expect(await appliedOrder(h)).toEqual(['h1', 'h2', 'h3']);
    expect(await applied(events[1]!.id)).toBe(1);
    expect((await seen(events[1]!.id)).map((s) => s.attempt)).toEqual([1, 2, 3]);
  });

  it('dead-letters a message with its last error after the last attempt', async () => {
    const event = effectEvent({ label: unique('exhausted'), failTimes: 99 });
    await send(out.FanoutQueueUrl!, JSON.stringify(event));
    const [message] = await deadLettered(out.FanoutDeadLetterQueueUrl!, event.data.label);
    expect(attributes(message!)).toMatchObject({ errorName: 'Error', errorMessage: 'transient failure on delivery 3', attemptCount: '3' });
    expect(await applied(event.id)).toBe(0);
  });

  it('receives committed events through the relay on both paths and applies each once per consumer', async () => {
    // arrange
    const outbox = new Outbox({ client: ddb, tableName: out.TableName!, source: TEST_SOURCE, retentionSeconds: 3600 });
    const subject = unique('e2e');

    // act
    await outbox.commit([{ id: subject, key: { pk: `E2E#${subject}`, sk: 'STATE' }, expectedVersion: 0, state: {}, events: [{ type: EFFECT_REQUESTED, data: { label: 'e2e-1' } }, { type: EFFECT_REQUESTED, data: { label: 'e2e-2' } }] }]);

    // assert: each consumer keeps its own idempotency records, so each applies both events once
    const labels = await eventually(() => appliedOrder(subject), (l) => l.length >= 4, { what: 'both consumers to apply both events' });
    expect(labels.filter((l) => l === 'e2e-1')).toHaveLength(2);
    expect(labels.filter((l) => l === 'e2e-2')).toHaveLength(2);
  });
});
