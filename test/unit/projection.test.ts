import { QueryCommand, ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from '@aws-sdk/client-sqs';
import { marshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import { buildEvent, newEventId, newTraceparent, type EventEnvelope } from '../../functions/toolkit/envelope';
import {
  catchUp,
  decide,
  InMemoryEventLog,
  InMemoryProjectionStore,
  newRow,
  ProjectionConflictError,
  Projector,
  SUMMARY_KEY,
  type ProjectionRow,
} from '../../functions/toolkit/projection';
import { PoisonMessageError } from '../../functions/toolkit/consumer';
import { toOutboxItem } from '../../functions/toolkit/outbox/outboxItem';
import { replay, ReplayError } from '../../functions/toolkit/replay';
import { COMMIT_TIME } from './fixtures';

/** The test projection: counts events per row and keeps the order it saw them in; the summary totals them. */
interface Tally {
  readonly count: number;
  readonly seen: readonly string[];
}
type Counted = EventEnvelope<{ note: string }>;
const COUNTED = 'test.counter.incremented';
const OTHER = 'test.counter.renamed';
const apply = (state: Tally, event: Counted) => ({ state: { count: state.count + 1, seen: [...state.seen, `${event.source}:${event.sequence}`] }, summary: { total: 1 } });
const initial = (): Tally => ({ count: 0, seen: [] });

/** An event of `source` for key `key` at `sequence`, as an outbox commits it. */
function counted(sequence: number, { key = 'k-1', source = 'test.orders', type = COUNTED } = {}): Counted {
  return buildEvent({ id: newEventId(), source, type, subject: key, sequence, time: COMMIT_TIME, traceparent: newTraceparent(), data: { note: `n${sequence}` } });
}

/** A stored row that has applied `watermarks`. */
function rowAt(watermarks: Record<string, number>, revision = Object.values(watermarks).reduce((a, b) => a + b, 0)): ProjectionRow<Tally> {
  return { ...newRow('k-1', initial()), watermarks, revision, version: revision };
}

describe('decide: duplicate, apply or gap', () => {
  it.each([
    ['a sequence at the watermark is a duplicate', { 'test.orders': 3 }, 3, true, { kind: 'duplicate', watermark: 3 }],
    ['a sequence below the watermark is a duplicate', { 'test.orders': 3 }, 1, true, { kind: 'duplicate', watermark: 3 }],
    ['the next sequence is applied', { 'test.orders': 3 }, 4, true, { kind: 'apply' }],
    ['the first event of a new row is applied', {}, 1, true, { kind: 'apply' }],
    ['a sequence past the next, with a log, is a gap to fill', { 'test.orders': 3 }, 7, true, { kind: 'gap', after: 3, before: 7 }],
    ['a sequence past the next, without a log, is applied', { 'test.orders': 3 }, 7, false, { kind: 'apply' }],
  ])('%s', (_title, watermarks, sequence, hasLog, expected) => {
    // arrange
    const row = rowAt(watermarks);

    // act
    const decision = decide(row, counted(sequence), hasLog);

    // assert
    expect(decision).toEqual(expected);
  });

  it('reads the watermark of the event’s own source only', () => {
    expect(decide(rowAt({ 'test.barista': 5 }), counted(1), true)).toEqual({ kind: 'apply' });
    expect(decide(rowAt({ 'test.barista': 5 }), counted(2), true)).toEqual({ kind: 'gap', after: 0, before: 2 });
  });
});

describe('catchUp: applying in order', () => {
  it('given a new row, when events 1, 2, 3 arrive in order, applies each once and the revision counts them', () => {
    // arrange
    let row = newRow('k-1', initial());
    const revisions: number[] = [];

    // act
    for (const event of [counted(1), counted(2), counted(3)]) {
      const result = catchUp(row, [event], apply);
      row = result.row;
      revisions.push(row.revision);
    }

    // assert
    expect(row.state).toEqual({ count: 3, seen: ['test.orders:1', 'test.orders:2', 'test.orders:3'] });
    expect(row.watermarks).toEqual({ 'test.orders': 3 });
    expect(revisions).toEqual([1, 2, 3]);
  });

  it('given a row at 2, when a gap is filled with the log’s 3 and 4 and then 5, applies them in order and sums the summary', () => {
    // arrange
    const row = catchUp(newRow('k-1', initial()), [counted(1), counted(2)], apply).row;

    // act
    const result = catchUp(row, [counted(3), counted(4), counted(5)], apply);

    // assert
    expect(result.row.state.seen).toEqual(['test.orders:1', 'test.orders:2', 'test.orders:3', 'test.orders:4', 'test.orders:5']);
    expect(result.row.revision).toBe(5);
    expect(result).toMatchObject({ applied: 3, duplicates: 0, missing: 0, summary: { total: 3 } });
  });

  it('given a row at 3, when copies of 2 and 3 come again, changes nothing', () => {
    // arrange
    const row = catchUp(newRow('k-1', initial()), [counted(1), counted(2), counted(3)], apply).row;

    // act
    const result = catchUp(row, [counted(2), counted(3)], apply);

    // assert
    expect(result.row).toEqual(row);
    expect(result).toMatchObject({ applied: 0, duplicates: 2, summary: {} });
  });

  it('when the log no longer has 1 and 2 (retention), applies 3 and 4 and counts 2 missing', () => {
    // act
    const result = catchUp(newRow('k-1', initial()), [counted(3), counted(4)], apply);

    // assert
    expect(result.row.state.seen).toEqual(['test.orders:3', 'test.orders:4']);
    expect(result.row.watermarks).toEqual({ 'test.orders': 4 });
    expect(result).toMatchObject({ applied: 2, missing: 2 });
  });

  it('does not count gaps of a source without a log as missing', () => {
    const result = catchUp(newRow('k-1', initial()), [counted(4, { source: 'test.probe' })], apply, (source) => source !== 'test.probe');
    expect(result).toMatchObject({ applied: 1, missing: 0 });
  });

  it('moves the watermark over a skipped logged event without applying it or raising the revision', () => {
    // arrange
    const other = counted(2, { type: OTHER });

    // act
    const result = catchUp(newRow('k-1', initial()), [counted(1), { ...other, skipped: true as const }, counted(3)], apply);

    // assert
    expect(result.row.state.seen).toEqual(['test.orders:1', 'test.orders:3']);
    expect(result.row.revision).toBe(2);
    expect(result).toMatchObject({ applied: 2, skipped: 1, missing: 0 });
  });

  it('keeps two sources independent: each has its own watermark, and their interleaving does not matter', () => {
    // arrange
    const orders = [counted(1), counted(2)];
    const barista = [counted(1, { source: 'test.barista' }), counted(2, { source: 'test.barista' })];

    // act
    const interleaved = catchUp(newRow('k-1', initial()), [orders[0]!, barista[0]!, barista[1]!, orders[1]!], apply).row;
    const oneThenOther = catchUp(newRow('k-1', initial()), [...barista, ...orders], apply).row;

    // assert
    expect(interleaved.watermarks).toEqual({ 'test.orders': 2, 'test.barista': 2 });
    expect(oneThenOther.watermarks).toEqual(interleaved.watermarks);
    expect(interleaved.state.count).toBe(4);
    expect(oneThenOther.state.count).toBe(4);
    expect(interleaved.revision).toBe(4);
  });

  it('keys watermarks by source and partition key when the row is keyed by something else', () => {
    const row = newRow('customer-1', initial());
    const result = catchUp(row, [counted(1, { key: 'order-1' }), counted(1, { key: 'order-2' })], apply);
    expect(result.row.watermarks).toEqual({ 'test.orders@order-1': 1, 'test.orders@order-2': 1 });
    expect(result.applied).toBe(2);
  });

  it('takes a bare state from apply as well as { state, summary }', () => {
    const result = catchUp(newRow('k-1', initial()), [counted(1)], (state: Tally) => ({ ...state, count: state.count + 1 }));
    expect(result.row.state.count).toBe(1);
    expect(result.summary).toEqual({});
  });
});

describe('Projector: a delivery against the store and the log', () => {
  function projector(store: InMemoryProjectionStore<Tally>, log: InMemoryEventLog, decode = async (e: EventEnvelope) => (e.type === COUNTED ? (e as Counted) : undefined)) {
    return new Projector<Tally, Counted>({ store, log, initial, apply, decode, conflictRetry: { maxAttempts: 3, baseDelayMs: 0, maxDelayMs: 0 } });
  }

  it('given the log has 1..3, when 3 arrives first, fills 1 and 2 from the log, then later copies are duplicates', async () => {
    // arrange
    const events = [counted(1), counted(2), counted(3)];
    const store = new InMemoryProjectionStore<Tally>();
    const log = new InMemoryEventLog({ 'test.orders': events });
    const project = projector(store, log);

    // act
    const first = await project.project(events[2]!);
    const later = await Promise.all(events.map((e) => project.project(e)));

    // assert
    expect(first).toMatchObject({ kind: 'applied', applied: 3, revision: 3, missing: 0 });
    expect(log.reads).toEqual([{ source: 'test.orders', partitionkey: 'k-1', after: 0, before: 3 }]);
    expect(later.map((o) => o.kind)).toEqual(['duplicate', 'duplicate', 'duplicate']);
    expect(store.rows.get('k-1')).toMatchObject({ revision: 3, version: 1, state: { seen: ['test.orders:1', 'test.orders:2', 'test.orders:3'] } });
    expect(store.summary).toEqual({ total: 3 });
  });

  it('skips logged events of types it does not handle, but fills past them', async () => {
    // arrange
    const events = [counted(1), counted(2, { type: OTHER }), counted(3)];
    const store = new InMemoryProjectionStore<Tally>();

    // act
    const outcome = await projector(store, new InMemoryEventLog({ 'test.orders': events })).project(events[2]!);

    // assert
    expect(outcome).toMatchObject({ applied: 2, skipped: 1 });
    expect(store.rows.get('k-1')?.watermarks).toEqual({ 'test.orders': 3 });
  });

  it('reports events the log no longer has, and applies what it has', async () => {
    const events = [counted(1), counted(2), counted(3), counted(4)];
    const store = new InMemoryProjectionStore<Tally>();
    const outcome = await projector(store, new InMemoryEventLog({ 'test.orders': events.slice(2) })).project(events[3]!);
    expect(outcome).toMatchObject({ kind: 'applied', applied: 2, missing: 2, revision: 2 });
  });

  it('when another delivery saves the row first, reloads and decides again: no event lost or doubled', async () => {
    // arrange: the first save of event 2 races with a concurrent save of event 1
    const [one, two] = [counted(1), counted(2)];
    const store = new InMemoryProjectionStore<Tally>();
    const log = new InMemoryEventLog({ 'test.orders': [one, two] });
    let raced = false;
    store.beforeSave = () => {
      if (raced) return;
      raced = true;
      store.rows.set('k-1', { ...catchUp(newRow('k-1', initial()), [one], apply).row, version: 1 });
      store.summary.total = 1;
    };

    // act
    const outcome = await projector(store, log).project(two);

    // assert
    expect(outcome).toMatchObject({ kind: 'applied', applied: 1, conflicts: 1, revision: 2 });
    expect(store.rows.get('k-1')).toMatchObject({ version: 2, state: { seen: ['test.orders:1', 'test.orders:2'] } });
    expect(store.summary).toEqual({ total: 2 });
  });

  it('gives up after the last conflict with ProjectionConflictError (transient: the message is retried)', async () => {
    const store = new InMemoryProjectionStore<Tally>();
    store.beforeSave = (key) => store.rows.set(key, { ...newRow(key, initial()), version: (store.rows.get(key)?.version ?? 0) + 1 });
    await expect(projector(store, new InMemoryEventLog()).project(counted(1))).rejects.toBeInstanceOf(ProjectionConflictError);
  });

  it('refuses an event that maps to the summary’s key as poison', async () => {
    const store = new InMemoryProjectionStore<Tally>();
    await expect(projector(store, new InMemoryEventLog()).project(counted(1, { key: SUMMARY_KEY }))).rejects.toBeInstanceOf(PoisonMessageError);
  });
});

describe('replay: the log, key by key, to a queue', () => {
  /** A fake outbox table: Scan pages of keys (2 items a page) and Query by key, as DynamoDB answers. */
  function fakeLog(events: Counted[]) {
    const items = events.map((event) => marshall(toOutboxItem(event, undefined)));
    const queried: string[] = [];
    const client = {
      send: async (command: unknown) => {
        if (command instanceof ScanCommand) {
          const start = Number(command.input.ExclusiveStartKey?.offset?.N ?? 0);
          const page = items.slice(start, start + 2).map((item) => ({ pk: item.pk! }));
          return { Items: page, ...(start + 2 < items.length ? { LastEvaluatedKey: { offset: { N: String(start + 2) } } } : {}) };
        }
        if (command instanceof QueryCommand) {
          const pk = command.input.ExpressionAttributeValues?.[':pk']?.S;
          queried.push(pk!);
          return { Items: items.filter((item) => item.pk?.S === pk).sort((a, b) => a.sk!.S!.localeCompare(b.sk!.S!)) };
        }
        throw new Error(`unexpected ${String(command)}`);
      },
    };
    return { dynamodb: client as unknown as DynamoDBClient, queried };
  }

  /** A fake queue that fails the entries `failing` says, and records what it accepted. */
  function fakeQueue(failing: (entry: SendMessageBatchRequestEntry, call: number) => boolean = () => false) {
    const calls: SendMessageBatchRequestEntry[][] = [];
    const accepted: SendMessageBatchRequestEntry[] = [];
    const client = {
      send: async (command: unknown) => {
        if (!(command instanceof SendMessageBatchCommand)) throw new Error('unexpected command');
        const entries = command.input.Entries ?? [];
        calls.push(entries);
        const failed = entries.filter((entry) => failing(entry, calls.length));
        accepted.push(...entries.filter((entry) => !failed.includes(entry)));
        return { Successful: [], Failed: failed.map((entry) => ({ Id: entry.Id, Code: 'InternalError', SenderFault: false })) };
      },
    };
    return { sqs: client as unknown as SQSClient, calls, accepted };
  }

  const noWait = { maxAttempts: 3, baseDelayMs: 0, maxDelayMs: 0 };
  const keyOf = (entry: SendMessageBatchRequestEntry) => (JSON.parse(entry.MessageBody!) as Counted).partitionkey;
  const sequenceOf = (entry: SendMessageBatchRequestEntry) => Number((JSON.parse(entry.MessageBody!) as Counted).sequence);

  it('sends every key’s events in commit order, at most 10 a call, as the stored JSON; FIFO with group = key and dedup id = event id', async () => {
    // arrange: 12 events of k-1 and 3 of k-2, stored out of order
    const events = [...Array.from({ length: 12 }, (_, i) => counted(12 - i)), counted(2, { key: 'k-2' }), counted(1, { key: 'k-2' }), counted(3, { key: 'k-2' })];
    const { dynamodb, queried } = fakeLog(events);
    const queue = fakeQueue();

    // act
    const report = await replay({ dynamodb, sqs: queue.sqs, logs: ['outbox'], queueUrl: 'https://sqs.test/1/consumer.fifo' });

    // assert
    expect(report).toEqual({ keys: 2, events: 15, sent: 15 });
    expect(queried).toEqual(['OUTBOX#k-1', 'OUTBOX#k-2']);
    expect(queue.calls.map((c) => c.length)).toEqual([10, 5]);
    expect(queue.accepted.map((e) => `${keyOf(e)}:${sequenceOf(e)}`)).toEqual([...inOrderOf('k-1', 12), ...inOrderOf('k-2', 3)]);
    const first = queue.accepted[0]!;
    const stored = events.find((e) => e.partitionkey === 'k-1' && e.sequence === '1')!;
    expect(first).toMatchObject({ MessageBody: JSON.stringify(stored), MessageGroupId: 'k-1', MessageDeduplicationId: stored.id });
  });

  it('sends plain messages to a standard queue, only the types asked for', async () => {
    const { dynamodb } = fakeLog([counted(1), counted(2, { type: OTHER }), counted(3)]);
    const queue = fakeQueue();

    const report = await replay({ dynamodb, sqs: queue.sqs, logs: ['outbox'], queueUrl: 'https://sqs.test/1/consumer', types: [COUNTED] });

    expect(report).toEqual({ keys: 1, events: 3, sent: 2 });
    expect(queue.accepted.map(sequenceOf)).toEqual([1, 3]);
    expect(queue.accepted[0]).not.toHaveProperty('MessageGroupId');
  });

  it('retries failed entries with backoff until they are sent', async () => {
    const { dynamodb } = fakeLog([counted(1), counted(2), counted(3)]);
    const queue = fakeQueue((entry, call) => call === 1 && entry.Id === '1');

    const report = await replay({ dynamodb, sqs: queue.sqs, logs: ['outbox'], queueUrl: 'https://sqs.test/1/consumer', retry: noWait });

    expect(report.sent).toBe(3);
    expect(queue.calls.map((c) => c.map((e) => e.Id))).toEqual([['0', '1', '2'], ['1']]);
    expect(queue.accepted.map(sequenceOf).sort()).toEqual([1, 2, 3]);
  });

  it('fails loudly when entries still fail after every retry', async () => {
    const { dynamodb } = fakeLog([counted(1), counted(2)]);
    const queue = fakeQueue((entry) => entry.Id === '0');

    const error = await replay({ dynamodb, sqs: queue.sqs, logs: ['outbox'], queueUrl: 'https://sqs.test/1/consumer', retry: noWait }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ReplayError);
    expect((error as ReplayError).message).toMatch(/could not send 1 event\(s\) after 3 attempts: InternalError/);
    expect(queue.calls).toHaveLength(3);
  });
});

const inOrderOf = (key: string, n: number) => Array.from({ length: n }, (_, i) => `${key}:${i + 1}`);
