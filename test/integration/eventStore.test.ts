import { DynamoDBClient, QueryCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseEvent, type EventEnvelope } from '../../functions/toolkit/envelope';
import { ConcurrencyError, EventStore } from '../../functions/toolkit/eventsource';
import { outboxPartitionKey } from '../../functions/toolkit/outbox';
import { eventually, unique } from '../support/eventually';
import { stackOutputs } from '../support/outputs';
import { LEDGER_DEPOSITED, LEDGER_SOURCE, ledger, LedgerEventSchemas, LedgerStateSchema, type LedgerCommand, type LedgerEvent, type LedgerState } from './eventstore/ledger';

const ddb = new DynamoDBClient({});
const sqs = new SQSClient({});
const N = 5;
let out: Record<string, string>;
let store: EventStore<LedgerCommand, LedgerState, LedgerEvent>;

beforeAll(() => {
  out = stackOutputs('EventStoreTest');
  store = new EventStore({ client: ddb, tableName: out.TableName!, source: LEDGER_SOURCE, decider: ledger, events: LedgerEventSchemas, state: LedgerStateSchema, snapshotEvery: N });
});

/** Every event of the stream, read straight from the table (one consistent Query, every page). */
async function allEvents(streamId: string): Promise<EventEnvelope[]> {
  const events: EventEnvelope[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await ddb.send(
      new QueryCommand({ TableName: out.TableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: marshall({ ':pk': outboxPartitionKey(streamId) }), ConsistentRead: true, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }),
    );
    for (const item of page.Items ?? []) events.push(parseEvent(unmarshall(item).envelope));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return events;
}

/** The full fold: every event from the first, no snapshot. */
const fullFold = (events: readonly EventEnvelope[]): LedgerState =>
  events.reduce((state, event) => ledger.evolve(state, { type: event.type, data: event.data } as LedgerEvent), ledger.initialState);

const sequences = (events: readonly EventEnvelope[]) => events.map((event) => Number(event.sequence));
const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
const openLedger = (streamId: string) => store.handle(streamId, { kind: 'open', holder: 'Test Holder', at: new Date().toISOString() });

describe('event store over the outbox, on the local cloud', () => {
  it('of 10 concurrent appends at the same expected version exactly one wins; the other 9 get ConcurrencyError', async () => {
    // arrange: an open ledger at version 1
    const streamId = unique('race');
    await openLedger(streamId);

    // act
    const results = await Promise.allSettled(oneTo(10).map((amount) => store.append(streamId, 1, [{ type: LEDGER_DEPOSITED, data: { amount } }])));

    // assert
    const won = results.filter((result): result is PromiseFulfilledResult<EventEnvelope[]> => result.status === 'fulfilled');
    const lost = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(9);
    for (const { reason } of lost) {
      expect(reason).toBeInstanceOf(ConcurrencyError);
      expect(reason).toMatchObject({ aggregateId: streamId, expectedVersion: 1, actualVersion: 2 });
    }
    const log = await allEvents(streamId);
    expect(sequences(log)).toEqual([1, 2]);
    expect(log[1]?.id).toBe(won[0]!.value[0]!.id);
    expect((await store.load(streamId)).version).toBe(2);
  });

  it('10 concurrent handles converge: each decides again on fresh state until its event is appended, sequences contiguous', async () => {
    // arrange
    const streamId = unique('converge');
    await openLedger(streamId);

    // act: 10 deposits at once; each retries on conflict (the last one in needs up to 9 retries)
    const handled = await Promise.all(oneTo(10).map((amount) => store.handle(streamId, { kind: 'deposit', amount }, { retries: 20 })));

    // assert
    const log = await allEvents(streamId);
    expect(sequences(log)).toEqual(oneTo(11));
    expect(log.slice(1).map((event) => (event.data as { amount: number }).amount).sort((a, b) => a - b)).toEqual(oneTo(10));
    expect(handled.some((result) => result.attempts > 1)).toBe(true);
    const loaded = await store.load(streamId);
    expect(loaded).toMatchObject({ version: 11, state: fullFold(log) });
    expect(loaded.state.balance).toBe(55);
  });

  it('a stream of 2N+3 events loads from the snapshot at 2N and 3 events (≤ N+1 items), equal to the full fold', async () => {
    // arrange: open, then 2N+2 deposits, one command at a time
    const streamId = unique('snap');
    await openLedger(streamId);
    for (let amount = 1; amount <= 2 * N + 2; amount++) await store.handle(streamId, { kind: 'deposit', amount });

    // act
    const loaded = await store.load(streamId);

    // assert
    const log = await allEvents(streamId);
    expect(sequences(log)).toEqual(oneTo(2 * N + 3));
    expect(loaded).toMatchObject({ version: 2 * N + 3, snapshotAt: 2 * N, eventsRead: 3 });
    expect(loaded.eventsRead + 1).toBeLessThanOrEqual(N + 1);
    expect(loaded.state).toEqual(fullFold(log));
    expect(loaded.state.entries).toEqual(oneTo(2 * N + 2));
  });

  it('appended events are the outbox: the relay delivers them to an ordered subscriber, in sequence order, like any event', async () => {
    // arrange
    const streamId = unique('relayed');
    await openLedger(streamId);
    await store.handle(streamId, { kind: 'deposit', amount: 5 });
    await store.handle(streamId, { kind: 'withdraw', amount: 2 });

    // act: read the subscriber's queue (only this file's streams use it), deleting whatever arrives
    const received: EventEnvelope[] = [];
    await eventually(
      async () => {
        const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: out.RelayedQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
        for (const message of Messages) {
          const event = parseEvent(message.Body);
          if (event.partitionkey === streamId) received.push(event);
        }
        if (Messages.length > 0) {
          await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: out.RelayedQueueUrl, Entries: Messages.map((message, i) => ({ Id: String(i), ReceiptHandle: message.ReceiptHandle! })) }));
        }
        return received.length;
      },
      (count) => count >= 3,
      { what: `3 relayed events of ${streamId}`, timeoutMs: 60_000 },
    );

    // assert
    expect(sequences(received)).toEqual([1, 2, 3]);
    expect(received.map((event) => event.id)).toEqual((await allEvents(streamId)).map((event) => event.id));
    expect(received.every((event) => event.source === LEDGER_SOURCE && event.subject === streamId)).toBe(true);
  });
});
