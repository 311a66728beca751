import { BatchWriteItemCommand, DynamoDBClient, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../../functions/toolkit/envelope';
import { Outbox } from '../../functions/toolkit/outbox';
import { ProjectionReader, type ProjectionRow } from '../../functions/toolkit/projection';
import { readEventLog, replay } from '../../functions/toolkit/replay';
import { eventually, unique } from '../support/eventually';
import { stackOutputs } from '../support/outputs';
import { COUNTER_INCREMENTED, COUNTER_NOTED, COUNTER_SOURCE } from './projection/counterEvents';
import type { CountingState } from './projection/countingProjection';

const ddb = new DynamoDBClient({});
const sqs = new SQSClient({});
let out: Record<string, string>;
let outbox: Outbox;
let reader: ProjectionReader<CountingState>;

beforeAll(() => {
  out = stackOutputs('ProjectionTest');
  outbox = new Outbox({ client: ddb, tableName: out.OutboxTableName!, source: COUNTER_SOURCE });
  reader = new ProjectionReader<CountingState>({ dynamodb: ddb, tableName: out.ProjectionTableName! });
});

/** Commits the next event of counter `key` (at `version`), as a service would. */
async function commit(key: string, version: number, type = COUNTER_INCREMENTED): Promise<EventEnvelope> {
  const [event] = await outbox.commit([{ id: key, key: { pk: `COUNTER#${key}`, sk: 'STATE' }, expectedVersion: version, state: { value: version + 1 }, events: [{ type, data: { n: version + 1 } }] }]);
  return event!;
}

/** Commits `count` events for `key` one after the other, from `from`. */
async function commitMany(key: string, from: number, count: number): Promise<void> {
  for (let version = from; version < from + count; version++) await commit(key, version);
}

const send = (event: EventEnvelope) => sqs.send(new SendMessageCommand({ QueueUrl: out.QueueUrl!, MessageBody: JSON.stringify(event) }));

async function depth(queueUrl: string): Promise<number> {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}
const drained = (what: string) => eventually(() => depth(out.QueueUrl!), (n) => n === 0, { what: `the projection's queue to drain (${what})`, timeoutMs: 90_000 });

/** `test.counter:1` … `test.counter:n`: every event of a key, once, in order. */
const inOrder = (n: number) => Array.from({ length: n }, (_, i) => `${COUNTER_SOURCE}:${i + 1}`);

async function allRows(): Promise<Map<string, ProjectionRow<CountingState>>> {
  const rows = new Map<string, ProjectionRow<CountingState>>();
  for await (const row of reader.list()) rows.set(row.key, row);
  return rows;
}

/** Events per key in the whole log (every run's), as a rebuilt read model must count them. */
async function loggedCounts(): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for await (const { partitionkey, events } of readEventLog({ dynamodb: ddb, tableName: out.OutboxTableName! })) counts.set(partitionkey, events.length);
  return counts;
}

/** Deletes every item of a table: a new, empty read model. */
async function wipe(tableName: string): Promise<void> {
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await ddb.send(new ScanCommand({ TableName: tableName, ProjectionExpression: '#k', ExpressionAttributeNames: { '#k': tableName === out.ProjectionTableName ? 'pk' : 'id' }, ExclusiveStartKey: startKey }));
    const keys = page.Items ?? [];
    for (let i = 0; i < keys.length; i += 25) {
      await ddb.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } })) } }));
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
}

describe('a projection (read model) on the local cloud', () => {
  it('given events 1–3 in the log, when 3 is delivered first, fills 1 and 2 from the log in order, and skips later copies', async () => {
    // arrange: events the bus rule does not route, so that only the test delivers them
    const key = unique('reordered');
    const events = [await commit(key, 0, COUNTER_NOTED), await commit(key, 1, COUNTER_NOTED), await commit(key, 2, COUNTER_NOTED)];
    const deadLetters = await depth(out.DeadLetterQueueUrl!);

    // act: 3 first
    await send(events[2]!);

    // assert: 1 and 2 were read from the log and applied before 3
    const row = await eventually(() => reader.get(key), (r) => r?.revision === 3, { what: `row ${key} at revision 3` });
    expect(row?.state).toEqual({ count: 3, applied: inOrder(3) });
    expect(row?.watermarks).toEqual({ [COUNTER_SOURCE]: 3 });

    // act: the late copies of 1, 2 and 3 arrive
    for (const event of events) await send(event);
    await drained('late copies');

    // assert: absorbed by the watermark (1 and 2 were never delivered before: not the idempotency store's doing)
    expect(await reader.get(key)).toEqual(row);
    expect(await depth(out.DeadLetterQueueUrl!)).toBe(deadLetters);
  });

  it('a late-comer rebuilds from the log with replay while events keep coming, with no gap and no double count; a second replay changes nothing', async () => {
    // arrange: 20 counters with 1–4 events each, projected live
    const committed = new Map<string, number>();
    const keys = Array.from({ length: 20 }, (_, i) => unique(`late${i}`));
    await Promise.all(keys.map(async (key, i) => {
      const count = 1 + (i % 4);
      await commitMany(key, 0, count);
      committed.set(key, count);
    }));
    await eventually(async () => Promise.all(keys.map(async (key) => (await reader.get(key))?.state.count ?? 0)), (counts) => counts.every((n, i) => n === committed.get(keys[i]!)), { what: 'the live projection of every counter', timeoutMs: 90_000 });
    await drained('live events');
    const deadLetters = await depth(out.DeadLetterQueueUrl!);

    // arrange: the read model is rebuilt: its table emptied (a projection keeps no idempotency
    // records, so the replayed events are applied again, not swallowed as already seen)
    await wipe(out.ProjectionTableName!);
    expect(await reader.summary()).toEqual({});

    // act: replay the log while more events are committed, to half of the old counters (the other
    // half gets nothing new: only the replay can rebuild it) and to new ones
    const newcomers = Array.from({ length: 5 }, (_, i) => unique(`new${i}`));
    const more = Promise.all([
      ...keys.filter((_, i) => i % 2 === 0).map(async (key, i) => {
        const extra = 1 + (i % 3);
        await commitMany(key, committed.get(key)!, extra);
        committed.set(key, committed.get(key)! + extra);
      }),
      ...newcomers.map(async (key) => {
        await commitMany(key, 0, 2);
        committed.set(key, 2);
      }),
    ]);
    const report = await replay({ dynamodb: ddb, sqs, logs: [out.OutboxTableName!], queueUrl: out.QueueUrl! });
    await more;

    // assert: every counter of this test counts exactly its committed events, each once, in order
    expect(report.sent).toBe(report.events);
    const all = [...keys, ...newcomers];
    await eventually(async () => Promise.all(all.map(async (key) => (await reader.get(key))?.state.count ?? 0)), (counts) => counts.every((n, i) => n === committed.get(all[i]!)), { what: 'every counter rebuilt', timeoutMs: 120_000 });
    await drained('replay and live events');
    for (const key of all) expect((await reader.get(key))?.state.applied, key).toEqual(inOrder(committed.get(key)!));

    // assert: the whole log (every run's keys) is rebuilt, and the summary is the sum — nothing counted twice
    const logged = await loggedCounts();
    const rows = await allRows();
    expect(new Map([...rows].map(([key, row]) => [key, row.state.count]))).toEqual(logged);
    const sum = [...logged.values()].reduce((a, b) => a + b, 0);
    expect(await reader.summary()).toEqual({ total: sum });
    expect(await depth(out.DeadLetterQueueUrl!)).toBe(deadLetters);

    // act: replay again
    const again = await replay({ dynamodb: ddb, sqs, logs: [out.OutboxTableName!], queueUrl: out.QueueUrl! });
    await drained('the second replay');

    // assert: every message was absorbed; nothing changed
    expect(again.sent).toBe(sum);
    expect(await allRows()).toEqual(rows);
    expect(await reader.summary()).toEqual({ total: sum });
    expect(await depth(out.DeadLetterQueueUrl!)).toBe(deadLetters);
  });
});
