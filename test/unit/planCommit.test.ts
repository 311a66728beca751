import { EventBridgeTarget } from '../../functions/toolkit/relay/EventBridgeTarget';
import { SqsFifoTarget } from '../../functions/toolkit/relay/SqsFifoTarget';
import { describe, expect, it } from 'vitest';
import { newEventId, type EventEnvelope } from '../../functions/toolkit/envelope';
import {
  MAX_EVENT_BYTES,
  CommitTooLargeError,
  InvalidCommitError,
  planCommit,
  type AggregateChange,
  type CommitContext,
  type NewEvent,
} from '../../functions/toolkit/outbox';
import { thrownBy } from './fixtures';

const NOW = new Date('2025-03-01T08:30:00.750Z');
const TRACE = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const KB = 1024;

/** A commit context whose ids are known in advance: `ids[0]` is handed out first. */
function context(overrides: Partial<CommitContext> = {}): CommitContext & { ids: string[] } {
  const ids = Array.from({ length: 200 }, () => newEventId());
  let next = 0;
  return { source: 'coffee.orders', now: NOW, traceparent: TRACE, newId: () => ids[next++]!, ids, ...overrides };
}

const orderPlacedEvent = (orderId: string): NewEvent => ({ type: 'coffee.order.placed', data: { orderId, totalCents: 380 } });
const orderPaidEvent = (orderId: string): NewEvent => ({ type: 'coffee.order.paid', data: { orderId, amountCents: 380 } });

const newOrder = (overrides: Partial<AggregateChange> = {}): AggregateChange => ({
  id: 'o-1',
  key: { pk: 'ORDER#o-1', sk: 'STATE' },
  expectedVersion: 0,
  state: { status: 'paid', totalCents: 380 },
  events: [orderPlacedEvent('o-1'), orderPaidEvent('o-1')],
  ...overrides,
});

const manyEvents = (count: number): NewEvent[] => Array.from({ length: count }, () => orderPaidEvent('o-1'));


describe('planCommit', () => {
  describe('given a new aggregate (expectedVersion 0)', () => {
    it('writes the aggregate at version 2, then one outbox item per event, all only if absent', () => {
      // arrange
      const change = newOrder();

      // act
      const plan = planCommit([change], context());

      // assert
      expect(plan.writes).toHaveLength(3);
      const [aggregate, ...outbox] = plan.writes;
      expect(aggregate).toEqual({
        item: { pk: 'ORDER#o-1', sk: 'STATE', status: 'paid', totalCents: 380, version: 2 },
        condition: { kind: 'absent' },
        aggregateId: 'o-1',
        isEvent: false,
      });
      for (const write of outbox) {
        expect(write.condition).toEqual({ kind: 'absent' });
        expect(write.isEvent).toBe(true);
        expect(write.aggregateId).toBe('o-1');
      }
    });

    it('gives the events sequences 1 and 2, the aggregate as subject, one trace, ids from newId and the commit time', () => {
      // arrange
      const ctx = context();

      // act
      const { events } = planCommit([newOrder()], ctx);

      // assert
      expect(events.map((e) => e.sequence)).toEqual(['1', '2']);
      expect(events.map((e) => e.type)).toEqual(['coffee.order.placed', 'coffee.order.paid']);
      expect(events.map((e) => e.id)).toEqual([ctx.ids[0], ctx.ids[1]]);
      for (const event of events) {
        expect(event.subject).toBe('o-1');
        expect(event.partitionkey).toBe('o-1');
        expect(event.source).toBe('coffee.orders');
        expect(event.traceparent).toBe(TRACE);
        expect(event.time).toBe('2025-03-01T08:30:00.750Z');
      }
      expect(events[0]!.data).toEqual({ orderId: 'o-1', totalCents: 380 });
    });

    it('keys each outbox item by partition key and subject#sequence and stores the exact envelope JSON', () => {
      // act
      const plan = planCommit([newOrder()], context());

      // assert
      plan.events.forEach((event, i) => {
        const item = plan.writes[i + 1]!.item;
        expect(item.pk).toBe('OUTBOX#o-1');
        expect(item.sk).toBe(`o-1#00000000000000${i + 1}`);
        expect(item.kind).toBe('outbox-event');
        expect(item.envelope).toBe(JSON.stringify(event));
        expect(JSON.parse(item.envelope as string)).toEqual(event);
      });
    });

    it('uses an event’s own partition key for its outbox partition', () => {
      // arrange
      const change = newOrder({ events: [{ ...orderPlacedEvent('o-1'), partitionkey: 'store-7' }] });

      // act
      const plan = planCommit([change], context());

      // assert
      expect(plan.events[0]!.partitionkey).toBe('store-7');
      expect(plan.writes[1]!.item.pk).toBe('OUTBOX#store-7');
    });

    it('sorts outbox keys numerically by sequence (10 after 9)', () => {
      // arrange
      const change = newOrder({ events: manyEvents(12) });

      // act
      const plan = planCommit([change], context());

      // assert
      const sortKeys = plan.writes.filter((w) => w.isEvent).map((w) => w.item.sk as string);
      const bySortKey = [...sortKeys].sort();
      expect(bySortKey).toEqual(sortKeys);
      expect(sortKeys[9]! > sortKeys[8]!).toBe(true); // sequence 10 after 9, as strings
      expect(plan.events.map((e) => Number(e.sequence))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    });

    it('lets outbox items expire retentionSeconds after the commit', () => {
      // arrange
      const ctx = context({ retentionSeconds: 7 * 24 * 3600 });

      // act
      const plan = planCommit([newOrder()], ctx);

      // assert
      const expected = Math.floor(NOW.getTime() / 1000) + 7 * 24 * 3600;
      for (const write of plan.writes.filter((w) => w.isEvent)) expect(write.item.expiresAt).toBe(expected);
      expect(plan.writes[0]!.item).not.toHaveProperty('expiresAt');
    });

    it('keeps outbox items for good when retentionSeconds is undefined', () => {
      // act
      const plan = planCommit([newOrder()], context());

      // assert
      for (const write of plan.writes) expect(write.item).not.toHaveProperty('expiresAt');
    });

    it('accepts state attributes named like Object.prototype members', () => {
      // arrange
      const change = newOrder({ state: { constructor: 'Ana', toString: 'plain', status: 'paid' } });

      // act
      const plan = planCommit([change], context());

      // assert
      expect(plan.writes[0]!.item).toMatchObject({ constructor: 'Ana', toString: 'plain', version: 2 });
    });
  });

  describe('given an existing aggregate (expectedVersion 3)', () => {
    it('conditions the aggregate on version 3 and continues the sequence at 4', () => {
      // arrange
      const change = newOrder({ expectedVersion: 3 });

      // act
      const plan = planCommit([change], context());

      // assert
      expect(plan.writes[0]!.condition).toEqual({ kind: 'version', version: 3 });
      expect(plan.writes[0]!.item.version).toBe(5);
      expect(plan.events.map((e) => e.sequence)).toEqual(['4', '5']);
      expect(plan.writes.slice(1).map((w) => w.condition)).toEqual([{ kind: 'absent' }, { kind: 'absent' }]);
    });
  });

  describe('given several aggregates', () => {
    it('writes each aggregate followed by its own events, with sequences per aggregate', () => {
      // arrange
      const order = newOrder({ expectedVersion: 1, events: [orderPaidEvent('o-1')] });
      const wallet = newOrder({ id: 'w-9', key: { pk: 'WALLET#w-9', sk: 'STATE' }, expectedVersion: 0, state: { balance: 0 } });

      // act
      const plan = planCommit([order, wallet], context());

      // assert
      expect(plan.writes.map((w) => [w.aggregateId, w.isEvent])).toEqual([
        ['o-1', false],
        ['o-1', true],
        ['w-9', false],
        ['w-9', true],
        ['w-9', true],
      ]);
      expect(plan.events.map((e) => `${e.subject}@${e.sequence}`)).toEqual(['o-1@2', 'w-9@1', 'w-9@2']);
    });
  });

  describe('rejects a malformed commit with InvalidCommitError', () => {
    it.each([
      ['no changes', [], 'no aggregate changes'],
      ['an aggregate without events', [newOrder({ events: [] })], 'aggregate o-1 has no events'],
      ['the same aggregate twice', [newOrder(), newOrder()], 'aggregate o-1 appears twice'],
      ['state that sets a key attribute', [newOrder({ state: { pk: 'ORDER#other' } })], 'state must not set key or version attribute "pk"'],
      ['state that sets the version', [newOrder({ state: { version: 99 } })], 'state must not set key or version attribute "version"'],
      ['a negative expectedVersion', [newOrder({ expectedVersion: -1 })], 'expectedVersion must be a non-negative integer'],
      ['a fractional expectedVersion', [newOrder({ expectedVersion: 1.5 })], 'expectedVersion must be a non-negative integer'],
    ] as const)('%s', (_, changes, problem) => {
      // act
      const error = thrownBy(() => planCommit(changes, context()));

      // assert
      expect(error).toBeInstanceOf(InvalidCommitError);
      expect((error as InvalidCommitError).message).toContain(problem);
    });

    it('lists every problem together', () => {
      // arrange
      const changes = [newOrder({ events: [] }), newOrder({ state: { sk: 'X' } })];

      // act
      const error = thrownBy(() => planCommit(changes, context()));

      // assert
      expect(error).toBeInstanceOf(InvalidCommitError);
      expect((error as InvalidCommitError).problems).toEqual([
        'aggregate o-1 has no events',
        'aggregate o-1 appears twice',
        'aggregate o-1 state must not set key or version attribute "sk"',
      ]);
    });
  });

  describe('rejects a commit over DynamoDB limits with CommitTooLargeError', () => {
    it('more than 100 items in one transaction', () => {
      // arrange
      const change = newOrder({ events: manyEvents(100) });

      // act
      const error = thrownBy(() => planCommit([change], context()));

      // assert
      expect(error).toBeInstanceOf(CommitTooLargeError);
      expect((error as CommitTooLargeError).problems).toEqual(['101 items (aggregates + events), at most 100 per transaction']);
    });

    it('accepts exactly 100 items', () => {
      // arrange
      const change = newOrder({ events: manyEvents(99) });

      // act
      const plan = planCommit([change], context());

      // assert
      expect(plan.writes).toHaveLength(100);
    });

    it('an aggregate item over 400 KB', () => {
      // arrange
      const change = newOrder({ state: { notes: 'x'.repeat(401 * KB) } });

      // act
      const error = thrownBy(() => planCommit([change], context()));

      // assert
      expect(error).toBeInstanceOf(CommitTooLargeError);
      expect((error as CommitTooLargeError).problems).toHaveLength(1);
      expect((error as CommitTooLargeError).message).toMatch(/aggregate o-1 is \d+ bytes, at most 409600 per item/);
    });

    it('an event envelope over what the relay can publish, even when its item fits in 400 KB', () => {
      // arrange
      const change = newOrder({ events: [{ type: 'coffee.order.placed', data: { note: 'x'.repeat(300 * KB) } }] });

      // act
      const error = thrownBy(() => planCommit([change], context()));

      // assert
      expect(error).toBeInstanceOf(CommitTooLargeError);
      expect((error as CommitTooLargeError).problems).toHaveLength(1);
      expect((error as CommitTooLargeError).message).toMatch(new RegExp(`an event of aggregate o-1 is \\d+ bytes, at most ${MAX_EVENT_BYTES} per event`));
    });

    it('accepts the largest publishable event, and the relay\'s targets can send it in one call', () => {
      // arrange: an event whose envelope is exactly MAX_EVENT_BYTES
      const probe = planCommit([newOrder({ events: [{ type: 'coffee.order.placed', data: { note: '' } }] })], context()).events[0]!;
      const padding = MAX_EVENT_BYTES - Buffer.byteLength(JSON.stringify(probe));
      const change = newOrder({ events: [{ type: 'coffee.order.placed', data: { note: 'x'.repeat(padding) } }] });

      // act
      const [event] = planCommit([change], context()).events;

      // assert
      expect(Buffer.byteLength(JSON.stringify(event))).toBe(MAX_EVENT_BYTES);
      for (const target of [new EventBridgeTarget({} as never, 'bus'), new SqsFifoTarget({} as never, 'http://127.0.0.1/q.fifo')]) {
        expect(target.sizeOf(event!)).toBeLessThanOrEqual(target.maxBytes);
      }
    });

    it('more than 4 MB in all', () => {
      // arrange
      const bigState = { notes: 'x'.repeat(380 * KB) };
      const changes = Array.from({ length: 11 }, (_, i) =>
        newOrder({ id: `o-${i}`, key: { pk: `ORDER#o-${i}`, sk: 'STATE' }, state: bigState, events: [orderPlacedEvent(`o-${i}`)] }),
      );

      // act
      const error = thrownBy(() => planCommit(changes, context()));

      // assert
      expect(error).toBeInstanceOf(CommitTooLargeError);
      expect((error as CommitTooLargeError).message).toMatch(/\d+ bytes in all, at most 4194304 per transaction/);
    });

    it('lists every problem together', () => {
      // arrange
      const events = [...manyEvents(99), { type: 'coffee.order.paid', data: { note: 'x'.repeat(500 * KB) } }];
      const change = newOrder({ events });

      // act
      const error = thrownBy(() => planCommit([change], context()));

      // assert
      expect(error).toBeInstanceOf(CommitTooLargeError);
      const { problems, message } = error as CommitTooLargeError;
      expect(problems).toHaveLength(3);
      expect(message).toContain('101 items (aggregates + events), at most 100 per transaction');
      expect(message).toMatch(new RegExp(`an event of aggregate o-1 is \\d+ bytes, at most ${MAX_EVENT_BYTES} per event`));
      expect(message).toMatch(/an event of aggregate o-1 is \d+ bytes, at most 409600 per item/);
    });
  });

  it('is pure: the same input gives the same plan', () => {
    // arrange
    const ids = [newEventId(), newEventId()];
    const ctx = (): CommitContext => {
      let next = 0;
      return { source: 'coffee.orders', now: NOW, traceparent: TRACE, newId: () => ids[next++]! };
    };

    // act
    const first = planCommit([newOrder()], ctx());
    const second = planCommit([newOrder()], ctx());

    // assert
    expect(second).toEqual(first);
    expect(first.events.map((e: EventEnvelope) => e.id)).toEqual(ids);
  });
});
