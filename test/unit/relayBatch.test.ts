import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../../functions/toolkit/envelope';
import { relayBatch, toRelayRecord, type PoisonRecord, type RelayRecord } from '../../functions/toolkit/relay';
import type { BackoffPolicy } from '../../functions/toolkit/retry/backoff';
import { orderPlaced, streamRecord, streamSequenceNumber } from './fixtures';
import { FakeDeadLetterSink, FakeTarget, POLICY, relayDependencies } from './relayFakes';

/** Stream records 1, 2, 3, … as the relay reads them: events, or raw `envelope` strings (poison). */
const relayRecords = (...entries: Array<EventEnvelope | string | undefined>): RelayRecord[] =>
  entries.map((entry, i) => toRelayRecord(streamRecord(entry, streamSequenceNumber(i + 1))));

const ordersPlaced = (count: number, partitionkey?: string): EventEnvelope[] =>
  Array.from({ length: count }, () => orderPlaced(partitionkey === undefined ? {} : { partitionkey }));

const ids = (events: readonly EventEnvelope[]): string[] => events.map((e) => e.id);

const BROKEN_JSON = '{"specversion":"1.0","data":{"cardNumber":"4111111111111111"';

describe('relayBatch', () => {
  describe('given a healthy target', () => {
    it('sends 25 events to a 10-entry target in 3 calls of 10, 10 and 5, in stream order', async () => {
      // arrange
      const events = ordersPlaced(25);
      const bus = new FakeTarget('bus:orders', { maxEntries: 10 });
      const { deps, delays } = relayDependencies([bus]);

      // act
      const outcome = await relayBatch(relayRecords(...events), deps);

      // assert
      expect(bus.calls.map((call) => call.length)).toEqual([10, 10, 5]);
      expect(bus.calls.flat()).toEqual(ids(events));
      expect(outcome).toEqual({ delivered: { 'bus:orders': 25 }, deadLettered: 0, alreadyPublished: 0, filledFromLog: 0, blockedByGap: 0 });
      expect(delays).toEqual([]);
    });

    it('starts a new call before a call would exceed maxBytes', async () => {
      // arrange
      const events = ordersPlaced(5);
      const bus = new FakeTarget('bus:orders', { maxEntries: 10, maxBytes: 250, sizeOf: () => 100 });
      const { deps } = relayDependencies([bus]);

      // act
      await relayBatch(relayRecords(...events), deps);

      // assert
      expect(bus.calls.map((call) => call.length)).toEqual([2, 2, 1]);
      expect(bus.calls.flat()).toEqual(ids(events));
    });

    it('fills a call up to exactly maxBytes', async () => {
      // arrange
      const events = ordersPlaced(5);
      const bus = new FakeTarget('bus:orders', { maxEntries: 10, maxBytes: 300, sizeOf: () => 100 });
      const { deps } = relayDependencies([bus]);

      // act
      await relayBatch(relayRecords(...events), deps);

      // assert
      expect(bus.calls.map((call) => call.length)).toEqual([3, 2]);
    });

    it('splits by the real size of each event', async () => {
      // arrange
      const [first, second, third] = ordersPlaced(3);
      const large = orderPlaced({ data: { orderId: 'x'.repeat(2000) } });
      const bus = new FakeTarget('bus:orders', { maxEntries: 10, maxBytes: 3000 });
      const { deps } = relayDependencies([bus]);

      // act
      await relayBatch(relayRecords(first, second, large, third), deps);

      // assert
      expect(bus.calls.map((call) => call.length)).toEqual([2, 2]);
      expect(bus.accepted).toHaveLength(4);
    });

    it('sends every event to every target', async () => {
      // arrange
      const events = ordersPlaced(12);
      const bus = new FakeTarget('bus:orders', { maxEntries: 10 });
      const fifo = new FakeTarget('fifo:barista.fifo', { maxEntries: 5 });
      const { deps } = relayDependencies([bus, fifo]);

      // act
      const outcome = await relayBatch(relayRecords(...events), deps);

      // assert
      expect(ids(bus.accepted)).toEqual(ids(events));
      expect(ids(fifo.accepted)).toEqual(ids(events));
      expect(fifo.calls.map((call) => call.length)).toEqual([5, 5, 2]);
      expect(outcome.delivered).toEqual({ 'bus:orders': 12, 'fifo:barista.fifo': 12 });
    });

    it('has nothing to do for an empty batch', async () => {
      // arrange
      const bus = new FakeTarget('bus:orders');
      const deadLetters = new FakeDeadLetterSink();
      const { deps } = relayDependencies([bus], { deadLetters });

      // act
      const outcome = await relayBatch([], deps);

      // assert
      expect(bus.calls).toEqual([]);
      expect(deadLetters.sends).toEqual([]);
      expect(outcome).toEqual({ delivered: { 'bus:orders': 0 }, deadLettered: 0, alreadyPublished: 0, filledFromLog: 0, blockedByGap: 0 });
    });
  });

  describe('given a target that refuses some entries for a while', () => {
    it('retries only the refused entries, then the whole batch is done', async () => {
      // arrange
      const events = ordersPlaced(5);
      const bus = new FakeTarget('bus:orders').refusing([events[1]!, events[3]!], 1);
      const { deps, failures } = relayDependencies([bus]);

      // act
      const outcome = await relayBatch(relayRecords(...events), deps);

      // assert
      expect(bus.calls).toEqual([ids(events), [events[1]!.id, events[3]!.id]]);
      expect(ids(bus.accepted).sort()).toEqual(ids(events).sort());
      expect(outcome.firstFailedSequenceNumber).toBeUndefined();
      expect(outcome).not.toHaveProperty('firstFailedSequenceNumber');
      expect(outcome.delivered).toEqual({ 'bus:orders': 5 });
      expect(failures).toEqual([
        {
          target: 'bus:orders',
          attempt: 1,
          failed: [
            { id: events[1]!.id, code: 'InternalFailure', message: 'try again' },
            { id: events[3]!.id, code: 'InternalFailure', message: 'try again' },
          ],
          error: undefined,
        },
      ]);
    });
  });

  describe('given an entry that keeps failing past policy.maxAttempts', () => {
    it('stops at that record and does not send the target’s later chunks', async () => {
      // arrange
      const events = ordersPlaced(25);
      const stuck = events[12]!;
      const bus = new FakeTarget('bus:orders', { maxEntries: 10 }).refusing([stuck], Infinity);
      const { deps } = relayDependencies([bus]);
      const records = relayRecords(...events);

      // act
      const outcome = await relayBatch(records, deps);

      // assert
      expect(outcome.firstFailedSequenceNumber).toBe(streamSequenceNumber(13));
      expect(outcome.firstFailedSequenceNumber).toBe(records[12]!.sequenceNumber);
      expect(bus.calls).toEqual([ids(events.slice(0, 10)), ids(events.slice(10, 20)), [stuck.id], [stuck.id]]);
      expect(bus.calls.flat()).not.toContain(events[20]!.id);
      expect(outcome.delivered).toEqual({ 'bus:orders': 19 });
      expect(outcome.lastError).toBeInstanceOf(Error);
      expect((outcome.lastError as Error).message).toBe('InternalFailure');
    });

    it('reports the earliest failed record when two targets fail at different records', async () => {
      // arrange
      const events = ordersPlaced(10);
      const bus = new FakeTarget('bus:orders', { maxEntries: 10 }).refusing([events[7]!], Infinity);
      // one event per call: this target gives up later in time, though earlier in the stream
      const fifo = new FakeTarget('fifo:barista.fifo', { maxEntries: 1 }).refusing([events[2]!], Infinity);
      const { deps } = relayDependencies([bus, fifo]);

      // act
      const outcome = await relayBatch(relayRecords(...events), deps);

      // assert
      expect(outcome.firstFailedSequenceNumber).toBe(streamSequenceNumber(3));
      expect(outcome.delivered).toEqual({ 'bus:orders': 9, 'fifo:barista.fifo': 2 });
    });

    it('makes exactly policy.maxAttempts attempts', async () => {
      // arrange
      const [event] = ordersPlaced(1);
      const bus = new FakeTarget('bus:orders').refusing([event!], Infinity);
      const { deps, failures, delays } = relayDependencies([bus], { policy: { ...POLICY, maxAttempts: 4 } });

      // act
      await relayBatch(relayRecords(event), deps);

      // assert
      expect(bus.calls).toHaveLength(4);
      expect(failures.map((f) => f.attempt)).toEqual([1, 2, 3, 4]);
      expect(delays).toHaveLength(3);
    });
  });

  describe('given a target whose call throws', () => {
    it('counts every entry of the call as failed and retries them', async () => {
      // arrange
      const events = ordersPlaced(3);
      const bus = new FakeTarget('bus:orders').throwing(1);
      const { deps, failures } = relayDependencies([bus]);

      // act
      const outcome = await relayBatch(relayRecords(...events), deps);

      // assert
      expect(bus.calls).toEqual([ids(events), ids(events)]);
      expect(ids(bus.accepted)).toEqual(ids(events));
      expect(outcome.firstFailedSequenceNumber).toBeUndefined();
      expect(failures).toHaveLength(1);
      expect(failures[0]!.failed.map((f) => f.id)).toEqual(ids(events));
      expect(failures[0]!.failed.map((f) => f.code)).toEqual(['ThrottlingException', 'ThrottlingException', 'ThrottlingException']);
      expect(failures[0]!.error).toBeInstanceOf(Error);
    });

    it('stops at the chunk’s first record with the thrown error when every attempt throws', async () => {
      // arrange
      const events = ordersPlaced(15);
      const bus = new FakeTarget('bus:orders', { maxEntries: 10 }).throwing(Infinity, 2);
      const { deps } = relayDependencies([bus]);
      const records = relayRecords(...events);

      // act
      const outcome = await relayBatch(records, deps);

      // assert
      expect(bus.calls).toEqual([ids(events.slice(0, 10)), ids(events.slice(10)), ids(events.slice(10)), ids(events.slice(10))]);
      expect(outcome.firstFailedSequenceNumber).toBe(streamSequenceNumber(11));
      expect(outcome.firstFailedSequenceNumber).toBe(records[10]!.sequenceNumber);
      expect((outcome.lastError as Error).name).toBe('ThrottlingException');
      expect(outcome.delivered).toEqual({ 'bus:orders': 10 });
    });
  });

  describe('given poison records', () => {
    it('dead-letters them at once with their reason and keys and relays the other records', async () => {
      // arrange
      const [first, second, third] = ordersPlaced(3);
      const deadLetters = new FakeDeadLetterSink();
      const bus = new FakeTarget('bus:orders');
      const { deps } = relayDependencies([bus], { deadLetters });

      // act
      const outcome = await relayBatch(relayRecords(first, BROKEN_JSON, second, undefined, third), deps);

      // assert
      expect(deadLetters.sends).toHaveLength(1);
      expect(deadLetters.received.map((p) => p.sequenceNumber)).toEqual([streamSequenceNumber(2), streamSequenceNumber(4)]);
      expect(deadLetters.received.map((p) => p.errorName)).toEqual(['InvalidEnvelopeError', 'TypeError']);
      expect(deadLetters.received[0]!.keys).toEqual({ pk: 'OUTBOX#o-broken', sk: 'o-broken#000000000000001' });
      expect(JSON.stringify(deadLetters.sends)).not.toContain('4111111111111111');
      expect(bus.calls).toEqual([[first!.id, second!.id, third!.id]]);
      expect(outcome).toEqual({ delivered: { 'bus:orders': 3 }, deadLettered: 2, alreadyPublished: 0, filledFromLog: 0, blockedByGap: 0 });
    });

    it('retries the dead-letter queue when it fails for a while', async () => {
      // arrange
      const [event] = ordersPlaced(1);
      const deadLetters = new FakeDeadLetterSink().failing(2);
      const { deps, delays } = relayDependencies([new FakeTarget('bus:orders')], { deadLetters });

      // act
      const outcome = await relayBatch(relayRecords(event, BROKEN_JSON), deps);

      // assert
      expect(deadLetters.sends).toHaveLength(3);
      expect(outcome.firstFailedSequenceNumber).toBeUndefined();
      expect(outcome.deadLettered).toBe(1);
      expect(delays).toEqual([50, 100]);
    });

    it('stops at the first poison record when the dead-letter queue keeps failing', async () => {
      // arrange
      const [first, second] = ordersPlaced(2);
      const deadLetters = new FakeDeadLetterSink().failing(Infinity);
      const { deps, failures } = relayDependencies([new FakeTarget('bus:orders')], { deadLetters });

      // act
      const outcome = await relayBatch(relayRecords(first, BROKEN_JSON, second, undefined), deps);

      // assert
      expect(deadLetters.sends).toHaveLength(POLICY.maxAttempts);
      expect(outcome.firstFailedSequenceNumber).toBe(streamSequenceNumber(2));
      expect(outcome.deadLettered).toBe(0);
      expect((outcome.lastError as Error).message).toBe('dead-letter queue unavailable');
      expect(failures.map((f) => f.target)).toEqual(['dead-letter-queue', 'dead-letter-queue', 'dead-letter-queue']);
    });

    it('reports a target failure before the first poison record as the first failed record', async () => {
      // arrange
      const [first, second] = ordersPlaced(2);
      const deadLetters = new FakeDeadLetterSink().failing(Infinity);
      const bus = new FakeTarget('bus:orders').refusing([first!], Infinity);
      const { deps } = relayDependencies([bus], { deadLetters });

      // act
      const outcome = await relayBatch(relayRecords(first, second, BROKEN_JSON), deps);

      // assert
      expect(outcome.firstFailedSequenceNumber).toBe(streamSequenceNumber(1));
    });
  });

  describe('backoff between attempts', () => {
    it('waits exponentially longer after each failed attempt, up to the cap (full jitter at 0.5)', async () => {
      // arrange
      const [event] = ordersPlaced(1);
      const bus = new FakeTarget('bus:orders').refusing([event!], 5);
      const { deps, delays } = relayDependencies([bus], { policy: { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 300 } });

      // act
      const outcome = await relayBatch(relayRecords(event), deps);

      // assert
      expect(delays).toEqual([50, 100, 150, 150, 150]);
      expect(outcome.firstFailedSequenceNumber).toBeUndefined();
      expect(bus.accepted).toEqual([event]);
    });

    it('does not wait after the last attempt', async () => {
      // arrange
      const [event] = ordersPlaced(1);
      const bus = new FakeTarget('bus:orders').refusing([event!], Infinity);
      const { deps, delays } = relayDependencies([bus], { policy: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000 } });

      // act
      await relayBatch(relayRecords(event), deps);

      // assert
      expect(delays).toEqual([50, 100]);
    });
  });

  describe('given an ordered target', () => {
    it('sends the events of each partition key in stream order across chunks', async () => {
      // arrange
      const store7 = ordersPlaced(7, 'store-7');
      const store9 = ordersPlaced(5, 'store-9');
      const stream = [store7[0]!, store9[0]!, store7[1]!, store7[2]!, store9[1]!, store7[3]!, store9[2]!, store7[4]!, store7[5]!, store9[3]!, store9[4]!, store7[6]!];
      const fifo = new FakeTarget('fifo:barista.fifo', { maxEntries: 3 });
      const { deps } = relayDependencies([fifo]);

      // act
      await relayBatch(relayRecords(...stream), deps);

      // assert
      expect(fifo.calls).toHaveLength(4);
      const arrived = (key: string) => ids(fifo.accepted.filter((e) => e.partitionkey === key));
      expect(arrived('store-7')).toEqual(ids(store7));
      expect(arrived('store-9')).toEqual(ids(store9));
    });

    it('does not send the next chunk while a refused entry of the previous one is being retried', async () => {
      // arrange
      const events = ordersPlaced(6, 'store-7');
      const fifo = new FakeTarget('fifo:barista.fifo', { maxEntries: 3 }).refusing([events[2]!], 2);
      const { deps } = relayDependencies([fifo]);

      // act
      await relayBatch(relayRecords(...events), deps);

      // assert
      expect(fifo.calls).toEqual([ids(events.slice(0, 3)), [events[2]!.id], [events[2]!.id], ids(events.slice(3))]);
      expect(ids(fifo.accepted)).toEqual(ids(events));
    });
  });
});

describe('relayBatch to a target that keeps order per group (SQS FIFO)', () => {
  const byKey = (event: EventEnvelope) => event.partitionkey;

  it('never puts two events of one group in a call, and sends each group in stream order', async () => {
    // arrange: a hot key and four others, interleaved
    const hot = ordersPlaced(4, 'hot');
    const others = ['a', 'b', 'c', 'd'].map((key) => orderPlaced({ partitionkey: key }));
    const stream = [hot[0]!, others[0]!, hot[1]!, others[1]!, hot[2]!, others[2]!, others[3]!, hot[3]!];
    const fifo = new FakeTarget('fifo:barista.fifo', { maxEntries: 3, groupOf: byKey });
    const { deps } = relayDependencies([fifo]);

    // act
    await relayBatch(relayRecords(...stream), deps);

    // assert
    const keyOf = new Map(stream.map((e) => [e.id, e.partitionkey]));
    for (const call of fifo.calls) expect(new Set(call.map((id) => keyOf.get(id))).size).toBe(call.length);
    expect(fifo.calls.every((call) => call.length <= 3)).toBe(true);
    expect(ids(fifo.accepted.filter((e) => e.partitionkey === 'hot'))).toEqual(ids(hot));
    expect(fifo.calls).toHaveLength(4); // the hot key's four events need four calls; the others ride along
  });

  it('keeps a group in order when a call refuses its earlier event: the later one is not in that call', async () => {
    // arrange: the first event of `k` is refused once
    const k = ordersPlaced(3, 'k');
    const fifo = new FakeTarget('fifo:barista.fifo', { groupOf: byKey }).refusing([k[0]!], 1);
    const { deps } = relayDependencies([fifo]);

    // act
    await relayBatch(relayRecords(...k), deps);

    // assert: k1 (refused), k1 again, then k2, k3 — never k2 before k1
    expect(fifo.calls).toEqual([[k[0]!.id], [k[0]!.id], [k[1]!.id], [k[2]!.id]]);
    expect(ids(fifo.accepted)).toEqual(ids(k));
  });

  it('reports the earliest record not delivered when a call keeps failing, also if a later call would carry it', async () => {
    // arrange: stream x1, y1, x2; call 1 = [x1, y1], call 2 = [x2]; x1 keeps failing
    const [x1, x2] = ordersPlaced(2, 'x');
    const y1 = orderPlaced({ partitionkey: 'y' });
    const fifo = new FakeTarget('fifo:barista.fifo', { groupOf: byKey }).refusing([x1!], 99);
    const { deps } = relayDependencies([fifo]);
    const records = relayRecords(x1!, y1, x2!);

    // act
    const outcome = await relayBatch(records, deps);

    // assert: stops at x1 (the shard retries from there, in order); x2 was never sent
    expect(outcome.firstFailedSequenceNumber).toBe(records[0]!.sequenceNumber);
    expect(fifo.calls.flat()).not.toContain(x2!.id);
  });
});

describe('toRelayRecord', () => {
  it('reads the envelope of an outbox INSERT into an event', () => {
    // arrange
    const event = orderPlaced();
    const record = streamRecord(event, streamSequenceNumber(7));

    // act
    const relayRecord = toRelayRecord(record);

    // assert
    expect(relayRecord).toEqual({ sequenceNumber: streamSequenceNumber(7), event });
  });

  it('makes an item without an envelope attribute poison, with reason and keys', () => {
    // arrange
    const record = streamRecord(undefined, streamSequenceNumber(8), { pk: 'OUTBOX#o-77', sk: 'o-77#000000000000003' });

    // act
    const relayRecord = toRelayRecord(record);

    // assert
    expect(relayRecord).toEqual({
      sequenceNumber: streamSequenceNumber(8),
      poison: {
        sequenceNumber: streamSequenceNumber(8),
        reason: 'outbox item has no string attribute "envelope"',
        errorName: 'TypeError',
        keys: { pk: 'OUTBOX#o-77', sk: 'o-77#000000000000003' },
      },
    });
  });

  it('makes an envelope that is not JSON poison, without its payload', () => {
    // arrange
    const record = streamRecord(BROKEN_JSON, streamSequenceNumber(9), { pk: 'OUTBOX#o-78', sk: 'o-78#000000000000001' });

    // act
    const relayRecord = toRelayRecord(record);

    // assert
    expect('poison' in relayRecord).toBe(true);
    const { poison } = relayRecord as Extract<RelayRecord, { poison: PoisonRecord }>;
    expect(poison.errorName).toBe('InvalidEnvelopeError');
    expect(poison.reason).toContain('body is not valid JSON');
    expect(poison.keys).toEqual({ pk: 'OUTBOX#o-78', sk: 'o-78#000000000000001' });
    expect(JSON.stringify(relayRecord)).not.toContain('4111111111111111');
  });

  it('makes an invalid envelope poison, naming the field without the payload', () => {
    // arrange
    const invalid = JSON.stringify({ ...orderPlaced(), sequence: 'first', data: { cardNumber: '4111111111111111' } });
    const record = streamRecord(invalid, streamSequenceNumber(10));

    // act
    const relayRecord = toRelayRecord(record);

    // assert
    expect('poison' in relayRecord).toBe(true);
    const { poison } = relayRecord as Extract<RelayRecord, { poison: PoisonRecord }>;
    expect(poison.reason).toContain('sequence must be a positive decimal integer');
    expect(JSON.stringify(relayRecord)).not.toContain('4111111111111111');
  });
});
