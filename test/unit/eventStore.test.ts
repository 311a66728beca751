import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { buildEvent, newEventId, newTraceparent, type EventEnvelope } from '../../functions/toolkit/envelope';
import {
  ConcurrencyError,
  CorruptStreamError,
  DomainRejection,
  EventStore,
  InvalidEventError,
  InvalidSnapshotError,
  InvalidStreamIdError,
  snapshotDue,
  StreamConflictError,
  type EventStoreOptions,
  type Upcast,
} from '../../functions/toolkit/eventsource';
import { toOutboxItem } from '../../functions/toolkit/outbox/outboxItem';
import type { FieldSealer } from '../../functions/toolkit/privacy/ports';
import {
  LEDGER_DEPOSITED,
  LEDGER_SOURCE,
  ledger,
  LedgerEventSchemas,
  LedgerStateSchema,
  type LedgerCommand,
  type LedgerEvent,
  type LedgerState,
} from '../integration/eventstore/ledger';
import { FakeTable } from './FakeTable';

const NOW = new Date('2026-11-23T10:00:00.000Z');
const N = 5;

function store(table: FakeTable, overrides: Partial<EventStoreOptions<LedgerCommand, LedgerState, LedgerEvent>> = {}) {
  return new EventStore({
    client: table.dynamodb,
    tableName: 'ledger',
    source: LEDGER_SOURCE,
    clock: () => NOW,
    decider: ledger,
    events: LedgerEventSchemas,
    state: LedgerStateSchema,
    snapshotEvery: N,
    ...overrides,
  });
}

const open = (holder = 'Ada'): LedgerCommand => ({ kind: 'open', holder, at: NOW.toISOString() });
const deposit = (amount: number): LedgerCommand => ({ kind: 'deposit', amount });

/** Opens the ledger, then deposits 1, 2, 3, … one command at a time: `count` events in all. */
async function ledgerOf(events: EventStore<LedgerCommand, LedgerState, LedgerEvent>, streamId: string, count: number): Promise<void> {
  await events.handle(streamId, open());
  for (let amount = 1; amount < count; amount++) await events.handle(streamId, deposit(amount));
}

/** The state from the first event, straight from the log, no snapshot: what every load must equal. */
const fullFold = (log: readonly EventEnvelope[]): LedgerState =>
  log.reduce((state, event) => ledger.evolve(state, { type: event.type, data: event.data } as LedgerEvent), ledger.initialState);

const snapshotOf = (table: FakeTable, streamId: string) => table.get(`STREAM#${streamId}`, 'SNAPSHOT');

describe('snapshotDue', () => {
  it.each([
    [0, 1, false],
    [3, 4, false],
    [4, 5, true],
    [5, 6, false],
    [3, 7, true],
    [5, 9, false],
    [9, 16, true],
  ])('from %i to %i with every 5: %s', (from, to, due) => {
    expect(snapshotDue(from, to, 5)).toBe(due);
  });
});

describe('EventStore over an outbox table', () => {
  describe('load', () => {
    it('given 2N+3 events appended one at a time, reads the snapshot at 2N and 3 events, and equals the full fold', async () => {
      // arrange
      const table = new FakeTable();
      const events = store(table);
      await ledgerOf(events, 'l-1', 2 * N + 3);
      table.itemsQueried = 0;

      // act
      const loaded = await events.load('l-1');

      // assert
      expect(loaded).toEqual({ state: fullFold(table.log('l-1')), version: 2 * N + 3, eventsRead: 3, snapshotAt: 2 * N });
      expect(loaded.state.entries).toEqual(Array.from({ length: 2 * N + 2 }, (_, i) => i + 1));
      expect(table.itemsQueried).toBe(3);
    });

    it('never reads more than N - 1 events, whatever the stream length', async () => {
      const table = new FakeTable();
      const events = store(table);
      await events.handle('l-2', open());
      for (let amount = 1; amount <= 4 * N; amount++) {
        const { events: committed } = await events.handle('l-2', deposit(amount));
        const loaded = await events.load('l-2');
        expect(loaded.eventsRead).toBeLessThanOrEqual(N - 1);
        expect(loaded.version).toBe(Number(committed[0]!.sequence));
        expect(loaded.state).toEqual(fullFold(table.log('l-2')));
      }
    });

    it('reads every page of the tail (the Query is paginated)', async () => {
      // arrange: a page holds 2 items, the tail has 4 events
      const table = new FakeTable(2);
      const events = store(table, { snapshotEvery: 1000 });
      await ledgerOf(events, 'l-3', 4);

      // act
      const loaded = await events.load('l-3');

      // assert
      expect(loaded).toMatchObject({ version: 4, eventsRead: 4, snapshotAt: 0, state: { balance: 6, entries: [1, 2, 3] } });
      expect(table.calls.slice(-3)).toEqual(['GetItem', 'Query', 'Query']);
    });

    it('gives the initial state at version 0 for a stream without events', async () => {
      const loaded = await store(new FakeTable()).load('nobody');
      expect(loaded).toEqual({ state: ledger.initialState, version: 0, eventsRead: 0, snapshotAt: 0 });
    });

    it('upcasts old event versions before checking and folding them', async () => {
      // arrange: a v1 deposit stored { cents }; v2 (the latest) is { amount }
      const table = new FakeTable();
      const events = store(table, {
        upcast: ((type, dataversion, data) =>
          type === LEDGER_DEPOSITED && dataversion === 1 ? { amount: (data as { cents: number }).cents } : data) satisfies Upcast,
      });
      await events.handle('l-4', open());
      table.put(toOutboxItem(buildEvent({ id: newEventId(), source: LEDGER_SOURCE, type: LEDGER_DEPOSITED, subject: 'l-4', sequence: 2, time: NOW, traceparent: newTraceparent(), dataversion: 1, data: { cents: 7 } }), undefined));
      table.put({ pk: 'STREAM#l-4', sk: 'HEAD', version: 2 });

      // act
      const loaded = await events.load('l-4');

      // assert
      expect(loaded.state).toMatchObject({ balance: 7, entries: [7] });
    });

    it('refuses an event its schema does not accept, naming the path, not the value', async () => {
      const table = new FakeTable();
      const events = store(table);
      await events.handle('l-5', open());
      table.put(toOutboxItem(buildEvent({ id: newEventId(), source: LEDGER_SOURCE, type: LEDGER_DEPOSITED, subject: 'l-5', sequence: 2, time: NOW, traceparent: newTraceparent(), data: { cents: 7 } }), undefined));

      const error = await events.load('l-5').catch((e: unknown) => e);

      expect(error).toBeInstanceOf(InvalidEventError);
      expect(error).toMatchObject({ streamId: 'l-5', type: LEDGER_DEPOSITED, sequence: 2 });
      expect((error as Error).message).toContain('amount');
    });

    it('refuses a stream with a gap rather than give a wrong state', async () => {
      const table = new FakeTable();
      const events = store(table);
      await ledgerOf(events, 'l-6', 4);
      table.items.delete(`OUTBOX#l-6\u0000l-6#${String(2).padStart(15, '0')}`);

      await expect(events.load('l-6')).rejects.toBeInstanceOf(CorruptStreamError);
    });

    it('ignores a snapshot of another snapshotVersion and folds from the first event', async () => {
      const table = new FakeTable();
      await ledgerOf(store(table), 'l-7', N + 2);

      const loaded = await store(table, { snapshotVersion: 2 }).load('l-7');

      expect(loaded).toMatchObject({ version: N + 2, eventsRead: N + 2, snapshotAt: 0, state: fullFold(table.log('l-7')) });
    });

    it('refuses a stream id with "#" (another stream’s sort keys would fall in its range)', async () => {
      await expect(store(new FakeTable()).load('a#1')).rejects.toBeInstanceOf(InvalidStreamIdError);
    });
  });

  describe('append', () => {
    it('writes the events as outbox items of the stream and the head at the new version, in one transaction', async () => {
      // arrange
      const table = new FakeTable();
      const events = store(table);

      // act
      const committed = await events.append('l-10', 0, [{ type: 'test.ledger.opened', data: { holder: 'Ada', openedAt: NOW.toISOString() } }]);

      // assert
      expect(committed).toHaveLength(1);
      expect(committed[0]).toMatchObject({ source: LEDGER_SOURCE, subject: 'l-10', partitionkey: 'l-10', sequence: '1', type: 'test.ledger.opened' });
      expect(table.log('l-10')).toEqual(committed);
      expect(table.get('STREAM#l-10', 'HEAD')).toEqual({ pk: 'STREAM#l-10', sk: 'HEAD', version: 1 });
      expect(table.calls).toEqual(['TransactWriteItems']);
    });

    it('writes the snapshot exactly when an append reaches or passes a multiple of N, in the same transaction', async () => {
      const table = new FakeTable();
      const events = store(table);
      const snapshotsAt: number[] = [];
      await events.handle('l-11', open());
      for (let amount = 1; amount < 3 * N; amount++) {
        const before = snapshotOf(table, 'l-11')?.version;
        const writes = table.calls.filter((call) => call === 'TransactWriteItems').length;
        const { version } = await events.handle('l-11', deposit(amount));
        expect(table.calls.filter((call) => call === 'TransactWriteItems').length).toBe(writes + 1);
        if (snapshotOf(table, 'l-11')?.version !== before) snapshotsAt.push(version);
      }
      expect(snapshotsAt).toEqual([N, 2 * N, 3 * N]);
    });

    it('snapshots the state at the append’s last event when a batch passes a multiple', async () => {
      // arrange: at version 3
      const table = new FakeTable();
      const events = store(table);
      await ledgerOf(events, 'l-12', 3);
      const at3 = await events.load('l-12');

      // act: 4 events take it from 3 to 7, past 5
      await events.append('l-12', 3, [10, 20, 30, 40].map((amount) => ({ type: LEDGER_DEPOSITED, data: { amount } }) as const), { state: at3.state });

      // assert
      const snapshot = snapshotOf(table, 'l-12');
      expect(snapshot).toMatchObject({ version: 7, snapshotVersion: 1 });
      expect(JSON.parse(String(snapshot?.state))).toEqual(fullFold(table.log('l-12')));
      expect((await events.load('l-12')).eventsRead).toBe(0);
    });

    it('loads the state first when a snapshot is due and the caller gave none, and refuses a stale expected version without writing', async () => {
      // arrange: at version N - 1, one more event is due a snapshot
      const table = new FakeTable();
      const events = store(table);
      await ledgerOf(events, 'l-13', N - 1);

      // act: an append on a version the stream has left
      const error = await events.append('l-13', N - 2, [{ type: LEDGER_DEPOSITED, data: { amount: 1 } }]).catch((e: unknown) => e);
      const calls = table.calls.length;
      await events.append('l-13', N - 1, [{ type: LEDGER_DEPOSITED, data: { amount: 100 } }]);

      // assert
      expect(error).toBeInstanceOf(ConcurrencyError);
      expect(error).toMatchObject({ expectedVersion: N - 2, actualVersion: N - 1 });
      expect(table.calls.slice(calls)).toEqual(['GetItem', 'Query', 'TransactWriteItems']);
      expect(JSON.parse(String(snapshotOf(table, 'l-13')?.state))).toEqual(fullFold(table.log('l-13')));
    });

    it('of 10 appends at the same expected version exactly one wins; the others get ConcurrencyError and write nothing', async () => {
      const table = new FakeTable();
      const events = store(table);
      await ledgerOf(events, 'l-14', 2);

      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => events.append('l-14', 2, [{ type: LEDGER_DEPOSITED, data: { amount: i + 1 } }])),
      );

      expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
      const rejected = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
      expect(rejected).toHaveLength(9);
      for (const { reason } of rejected) expect(reason).toMatchObject({ name: 'ConcurrencyError', aggregateId: 'l-14', expectedVersion: 2, actualVersion: 3 });
      expect(table.log('l-14').map((event) => event.sequence)).toEqual(['1', '2', '3']);
    });

    it('reports a TransactionConflict cancellation as a ConcurrencyError (StreamConflictError)', async () => {
      const table = new FakeTable();
      table.beforeTransact = () => {
        throw new TransactionCanceledException({ message: 'conflict', $metadata: {}, CancellationReasons: [{ Code: 'TransactionConflict' }, { Code: 'None' }] });
      };
      const error = await store(table).append('l-15', 0, [{ type: LEDGER_DEPOSITED, data: { amount: 1 } }]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StreamConflictError);
      expect(error).toBeInstanceOf(ConcurrencyError);
    });

    it('checks every event against its schema before writing anything', async () => {
      const table = new FakeTable();
      const error = await store(table)
        .append('l-16', 0, [{ type: LEDGER_DEPOSITED, data: { amount: -5 } }])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidEventError);
      expect(table.calls).toEqual([]);
    });

    it('refuses to snapshot a state its schema does not accept back (not plain JSON), writing nothing', async () => {
      const table = new FakeTable();
      const events = store(table, { snapshotEvery: 1 });
      const error = await events
        .append('l-17', 0, [{ type: LEDGER_DEPOSITED, data: { amount: 1 } }], { state: { ...ledger.initialState, balance: Number.NaN } })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidSnapshotError);
      expect(table.log('l-17')).toEqual([]);
    });

    it('snapshots the state folded from the sealed events: no plaintext personal data reaches the snapshot', async () => {
      // arrange: a sealer that wraps values in a recognisable sealed form
      const sealer: FieldSealer = {
        seal: async (subject, _field, value) => `pd1:${Buffer.from(subject).toString('base64url')}:1:aXY:dGFn:${Buffer.from(String(value)).reverse().toString('base64url')}`,
        open: async () => {
          throw new Error('not used');
        },
      };
      const table = new FakeTable();
      const events = store(table, { snapshotEvery: 1, privacy: { sealer, schemas: LedgerEventSchemas } });

      // act
      const { state } = await events.handle('l-18', open('Grace Hopper'));

      // assert
      const snapshot = String(snapshotOf(table, 'l-18')?.state);
      expect(snapshot).not.toContain('Grace');
      expect(JSON.parse(snapshot)).toEqual(state);
      expect(state.holder).toMatch(/^pd1:/);
      expect(JSON.stringify(table.log('l-18'))).not.toContain('Grace');
    });
  });

  describe('handle', () => {
    it('given a concurrent append between its load and its append, decides again on fresh state once and succeeds', async () => {
      // arrange: another writer withdraws 5 just before our first transaction
      const table = new FakeTable();
      const events = store(table);
      await ledgerOf(events, 'l-20', 2); // balance 1
      await events.handle('l-20', deposit(9)); // balance 10
      const other = store(table);
      let slipped = false;
      table.beforeTransact = async () => {
        if (slipped) return;
        slipped = true;
        await other.append('l-20', 3, [{ type: 'test.ledger.withdrawn', data: { amount: 5 } }]);
      };

      // act: withdraw 4, decided first on balance 10, then on 5
      const handled = await events.handle('l-20', { kind: 'withdraw', amount: 4 }, { backoff: { baseDelayMs: 0, maxDelayMs: 0 } });

      // assert
      expect(handled).toMatchObject({ attempts: 2, version: 5, state: { balance: 1 } });
      expect(handled.events.map((event) => event.sequence)).toEqual(['5']);
      expect(handled.state).toEqual(fullFold(table.log('l-20')));
    });

    it('treats a TransactionConflict as transient: the commit sends the same transaction again', async () => {
      const table = new FakeTable();
      const events = store(table);
      let conflicts = 2;
      table.beforeTransact = () => {
        if (conflicts-- > 0) throw new TransactionCanceledException({ message: 'conflict', $metadata: {}, CancellationReasons: [{ Code: 'TransactionConflict' }] });
      };
      const handled = await events.handle('l-21', open(), { backoff: { baseDelayMs: 0, maxDelayMs: 0 } });
      expect(handled).toMatchObject({ attempts: 1, version: 1 });
      expect(table.log('l-21')).toHaveLength(1);
    });

    it('decides again on fresh state when the contention outlasts the commit’s own retries', async () => {
      const table = new FakeTable();
      const events = store(table);
      let conflicts = 6; // the commit tries 5 times, then hands the stream back as contended
      table.beforeTransact = () => {
        if (conflicts-- > 0) throw new TransactionCanceledException({ message: 'conflict', $metadata: {}, CancellationReasons: [{ Code: 'TransactionConflict' }] });
      };
      const handled = await events.handle('l-21', open(), { backoff: { baseDelayMs: 0, maxDelayMs: 0 } });
      expect(handled).toMatchObject({ attempts: 2, version: 1 });
      expect(table.log('l-21')).toHaveLength(1);
    });

    it('gives up after `retries` conflicts and rethrows the ConcurrencyError', async () => {
      const table = new FakeTable();
      const events = store(table);
      await events.handle('l-22', open());
      const other = store(table);
      table.beforeTransact = async () => {
        table.beforeTransact = undefined;
        await other.handle('l-22', deposit(1));
        table.beforeTransact = beforeTransact;
      };
      const beforeTransact = table.beforeTransact;

      const error = await events.handle('l-22', deposit(2), { retries: 2, backoff: { baseDelayMs: 0, maxDelayMs: 0 } }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ConcurrencyError);
      expect(table.log('l-22').map((event) => (event.data as { amount?: number }).amount)).toEqual([undefined, 1, 1, 1]);
    });

    it('a domain rejection propagates at once: not retried, nothing written', async () => {
      // arrange
      const table = new FakeTable();
      const events = store(table);
      await events.handle('l-23', open());
      const writes = table.calls.filter((call) => call === 'TransactWriteItems').length;

      // act
      const error = await events.handle('l-23', { kind: 'withdraw', amount: 1 }).catch((e: unknown) => e);

      // assert
      expect(error).toBeInstanceOf(DomainRejection);
      expect(error).toMatchObject({ code: 'InsufficientFunds' });
      expect(table.calls.filter((call) => call === 'TransactWriteItems').length).toBe(writes);
      expect(table.calls.filter((call) => call === 'GetItem').length).toBe(2);
    });

    it('writes nothing when the decider has nothing to do', async () => {
      const table = new FakeTable();
      const events = new EventStore({
        client: table.dynamodb,
        tableName: 'ledger',
        source: LEDGER_SOURCE,
        decider: { ...ledger, decide: () => [] },
        events: LedgerEventSchemas,
        state: LedgerStateSchema,
      });
      expect(await events.handle('l-24', open())).toEqual({ events: [], state: ledger.initialState, version: 0, attempts: 1 });
      expect(table.calls).not.toContain('TransactWriteItems');
    });
  });

  it('refuses a snapshotEvery that is not a positive integer', () => {
    expect(() => store(new FakeTable(), { snapshotEvery: 0 })).toThrow(/snapshotEvery must be a positive integer/);
  });
});
