import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../../functions/toolkit/envelope';
import { outboxPartitionKey, outboxSortKey } from '../../functions/toolkit/outbox/outboxItem';
import {
  CURSOR_TTL_MARGIN_SECONDS,
  InMemoryCursorStore,
  InMemoryOutboxLog,
  relayBatch,
  toRelayRecord,
  type RelayDependencies,
  type RelayOutcome,
  type RelayRecord,
} from '../../functions/toolkit/relay';
import { COMMIT_TIME, counterIncrements, streamRecord, streamSequenceNumber } from './fixtures';
import { FakeDeadLetterSink, FakeTarget, relayDependencies } from './relayFakes';

/**
 * Per-stream order that does not rely on the DynamoDB stream's order. AWS: "stream records from
 * the same transaction may appear at different times and may be interleaved with records of other
 * transactions"; outbox items are distinct items, so a commit's events, or consecutive commits' events,
 * may reach the relay in any order. These tests hand the relay such orders.
 */

const byKey = (event: EventEnvelope) => event.partitionkey;
const newFifo = (options: { maxEntries?: number } = {}) => new FakeTarget('fifo:subscriber.fifo', { groupOf: byKey, ...options });
const newBus = () => new FakeTarget('bus:test');

/** Stream records in the order given, numbered as the shard numbers them (1, 2, 3, … from `first`). */
const recordsOf = (events: readonly EventEnvelope[], first = 1, expiresAt?: number): RelayRecord[] =>
  events.map((event, i) => toRelayRecord(streamRecord(event, streamSequenceNumber(first + i), undefined, expiresAt)));

/** Sequences a target accepted for one subject, in arrival order (duplicates included). */
const arrivals = (target: FakeTarget, subject: string): number[] => target.accepted.filter((e) => e.subject === subject).map((e) => Number(e.sequence));

/**
 * No event of a stream overtakes an earlier one at this target: each sequence first arrives after
 * every lower one has (duplicates of what already arrived may come again, as after any retry).
 */
function expectNoOvertaking(target: FakeTarget, subject: string, count: number): void {
  const firsts: number[] = [];
  for (const sequence of arrivals(target, subject)) if (!firsts.includes(sequence)) firsts.push(sequence);
  expect(firsts, `${target.name}: first arrivals of ${subject}`).toEqual(Array.from({ length: count }, (_, i) => i + 1));
}

/**
 * Every event of the stream reached this target. For the bus, that is all the relay promises about
 * order under failures: it sends each stream in sequence order, but one PutEvents call reports its
 * entries one by one, so a later entry may be accepted while an earlier one is retried — and
 * EventBridge keeps no order towards its rules' targets anyway (the fan-out path is unordered).
 */
function expectEverything(target: FakeTarget, subject: string, count: number): void {
  expect(new Set(arrivals(target, subject)), `${target.name}: ${subject}`).toEqual(new Set(Array.from({ length: count }, (_, i) => i + 1)));
}

/**
 * Runs a batch as a stream event-source mapping would: when the relay reports a first failed
 * record, the mapping retries from that record on, in order (at most `retries` times).
 */
async function asTheMappingWould(records: readonly RelayRecord[], deps: RelayDependencies, retries = 5): Promise<RelayOutcome[]> {
  const outcomes: RelayOutcome[] = [];
  let rest = [...records];
  for (let attempt = 0; attempt <= retries && rest.length > 0; attempt++) {
    const outcome = await relayBatch(rest, deps);
    outcomes.push(outcome);
    if (outcome.firstFailedSequenceNumber === undefined) break;
    rest = rest.slice(rest.findIndex((r) => r.sequenceNumber === outcome.firstFailedSequenceNumber));
  }
  return outcomes;
}

describe('relay order per stream (partition key + subject), whatever the stream order', () => {
  it('publishes a stream’s records reversed within one batch in sequence order', async () => {
    // arrange: one commit after another, but the records come last first
    const events = counterIncrements('c-1', 3);
    const fifo = newFifo();
    const bus = newBus();
    const { deps } = relayDependencies([bus, fifo], { logged: events });

    // act
    const outcome = await relayBatch(recordsOf([...events].reverse()), deps);

    // assert
    expect(outcome.firstFailedSequenceNumber).toBeUndefined();
    expect(arrivals(fifo, 'c-1')).toEqual([1, 2, 3]);
    expect(arrivals(bus, 'c-1')).toEqual([1, 2, 3]);
  });

  it('publishes one commit’s two events in order when they come in two batches, the later event first', async () => {
    // arrange: one commit wrote sequences 1 and 2; batch A carries 2, batch B carries 1
    const [first, second] = counterIncrements('c-2', 2);
    const fifo = newFifo();
    const { deps, log } = relayDependencies([fifo], { logged: [first, second] });

    // act
    const outcomeA = await relayBatch(recordsOf([second!], 1), deps);
    const outcomeB = await relayBatch(recordsOf([first!], 2), deps);

    // assert: 1 then 2, each once; 1 was read from the log by batch A, which has it durable
    expect(arrivals(fifo, 'c-2')).toEqual([1, 2]);
    expect(outcomeA).toMatchObject({ filledFromLog: 1, alreadyPublished: 0 });
    expect(outcomeB).toMatchObject({ filledFromLog: 0, alreadyPublished: 1 });
    expect(log.reads).toEqual([{ stream: { partitionkey: 'c-2', subject: 'c-2' }, from: 1, to: 1 }]);
  });

  it('keeps each of interleaved keys in order, never two events of one FIFO group in one call', async () => {
    // arrange
    const a = counterIncrements('a', 3);
    const b = counterIncrements('b', 3);
    const stream = [a[1]!, b[0]!, a[0]!, b[2]!, a[2]!, b[1]!];
    const fifo = newFifo({ maxEntries: 10 });
    const { deps } = relayDependencies([fifo], { logged: [...a, ...b] });

    // act
    await relayBatch(recordsOf(stream), deps);

    // assert
    expect(arrivals(fifo, 'a')).toEqual([1, 2, 3]);
    expect(arrivals(fifo, 'b')).toEqual([1, 2, 3]);
    const keyOf = new Map(stream.map((e) => [e.id, e.partitionkey]));
    for (const call of fifo.calls) expect(new Set(call.map((id) => keyOf.get(id))).size).toBe(call.length);
  });

  it('keeps two subjects that share a partition key each in its own sequence order', async () => {
    // arrange: a saga-like key with two aggregates whose sequences both start at 1
    const x = counterIncrements('x', 2, 'store-7');
    const y = counterIncrements('y', 2, 'store-7');
    const fifo = newFifo();
    const { deps } = relayDependencies([fifo], { logged: [...x, ...y] });

    // act
    await relayBatch(recordsOf([y[1]!, x[1]!, y[0]!, x[0]!]), deps);

    // assert
    expect(arrivals(fifo, 'x')).toEqual([1, 2]);
    expect(arrivals(fifo, 'y')).toEqual([1, 2]);
  });

  it('fills a gap from the outbox log before publishing the record that shows it', async () => {
    // arrange: sequences 1–3 were published; 4 and 5 were committed but their records have not come
    const events = counterIncrements('c-3', 6);
    const fifo = newFifo();
    const cursors = new InMemoryCursorStore([{ partitionkey: 'c-3', subject: 'c-3', sequence: 3 }]);
    const { deps, log } = relayDependencies([fifo], { logged: events, cursors });

    // act
    const outcome = await relayBatch(recordsOf([events[5]!]), deps);

    // assert
    expect(arrivals(fifo, 'c-3')).toEqual([4, 5, 6]);
    expect(log.reads).toEqual([{ stream: { partitionkey: 'c-3', subject: 'c-3' }, from: 4, to: 5 }]);
    expect(outcome).toMatchObject({ filledFromLog: 2, delivered: { 'fifo:subscriber.fifo': 3 } });
    expect(cursors.of({ partitionkey: 'c-3', subject: 'c-3' })?.sequence).toBe(6);
  });

  it('fills a hole inside the batch with one read of the log', async () => {
    // arrange: the batch has 1, 2 and 4 of a new stream; 3 is late
    const events = counterIncrements('c-4', 4);
    const fifo = newFifo();
    const { deps, log } = relayDependencies([fifo], { logged: events });

    // act
    await relayBatch(recordsOf([events[3]!, events[0]!, events[1]!]), deps);

    // assert
    expect(arrivals(fifo, 'c-4')).toEqual([1, 2, 3, 4]);
    expect(log.reads).toEqual([{ stream: { partitionkey: 'c-4', subject: 'c-4' }, from: 3, to: 3 }]);
  });

  it('does not republish events at or below the cursor', async () => {
    // arrange: 1–5 were published; the batch brings 4, 5 again (a retried batch) and 6
    const events = counterIncrements('c-5', 6);
    const fifo = newFifo();
    const bus = newBus();
    const cursors = new InMemoryCursorStore([{ partitionkey: 'c-5', subject: 'c-5', sequence: 5 }]);
    const { deps, log } = relayDependencies([bus, fifo], { logged: events, cursors });

    // act
    const outcome = await relayBatch(recordsOf([events[3]!, events[4]!, events[5]!]), deps);

    // assert
    expect(arrivals(fifo, 'c-5')).toEqual([6]);
    expect(arrivals(bus, 'c-5')).toEqual([6]);
    expect(outcome).toMatchObject({ alreadyPublished: 2, filledFromLog: 0 });
    expect(log.reads).toEqual([]);
  });

  it('reads nothing when the records continue the cursor (the common case: one BatchGetItem, one write)', async () => {
    // arrange
    const events = counterIncrements('c-6', 3);
    const cursors = new InMemoryCursorStore([{ partitionkey: 'c-6', subject: 'c-6', sequence: 1 }]);
    const { deps, log } = relayDependencies([newFifo()], { logged: events, cursors });

    // act
    await relayBatch(recordsOf([events[1]!, events[2]!]), deps);

    // assert
    expect(log.reads).toEqual([]);
    expect(cursors.calls).toEqual(['get', 'put']);
  });

  describe('when a target fails mid-way and the mapping retries the batch', () => {
    it('lets no event of a key overtake an earlier one at an ordered target, and republishes nothing at or below the cursor', async () => {
      // arrange: the bus refuses k#2 on every attempt of the first invocation; the FIFO queue is healthy
      const k = counterIncrements('k', 3);
      const [j1] = counterIncrements('j', 1);
      const bus = newBus().refusing([k[1]!], 3);
      const fifo = newFifo();
      const { deps, cursors } = relayDependencies([bus, fifo], { logged: [...k, j1!] });
      const records = recordsOf([k[1]!, k[0]!, k[2]!, j1!]);

      // act
      const outcomes = await asTheMappingWould(records, deps);

      // assert: the first invocation stops at the first record (it holds k#2); the retry finishes
      expect(outcomes[0]!.firstFailedSequenceNumber).toBe(records[0]!.sequenceNumber);
      expect(outcomes.at(-1)!.firstFailedSequenceNumber).toBeUndefined();
      expectNoOvertaking(fifo, 'k', 3);
      expectNoOvertaking(fifo, 'j', 1);
      expectEverything(bus, 'k', 3);
      // k#1 reached both targets in the first invocation: the retry does not send it again
      expect(arrivals(fifo, 'k').filter((s) => s === 1)).toHaveLength(1);
      expect(arrivals(bus, 'k').filter((s) => s === 1)).toHaveLength(1);
      expect(cursors.of({ partitionkey: 'k', subject: 'k' })?.sequence).toBe(3);
    });

    it('keeps order when a FIFO entry is refused for a while inside one invocation', async () => {
      // arrange
      const k = counterIncrements('k2', 4);
      const fifo = newFifo().refusing([k[1]!], 2);
      const { deps } = relayDependencies([fifo], { logged: k });

      // act
      const outcome = await relayBatch(recordsOf([k[3]!, k[1]!, k[2]!, k[0]!]), deps);

      // assert
      expect(outcome.firstFailedSequenceNumber).toBeUndefined();
      expect(arrivals(fifo, 'k2')).toEqual([1, 2, 3, 4]);
    });

    it('reports the earliest stream record that holds an unpublished event, also for events filled from the log', async () => {
      // arrange: the stream brings k#3 (record 1) and k#2 (record 2); k#1 is read from the log for
      // record 1, which triggered the fill; the target keeps refusing k#1
      const k = counterIncrements('k3', 3);
      const fifo = newFifo().refusing([k[0]!], Infinity);
      const { deps, cursors } = relayDependencies([fifo], { logged: k });
      const records = recordsOf([k[2]!, k[1]!]);

      // act
      const outcome = await relayBatch(records, deps);

      // assert: nothing of k was published past k#1, and the shard retries from record 1
      expect(arrivals(fifo, 'k3')).toEqual([]);
      expect(outcome.firstFailedSequenceNumber).toBe(records[0]!.sequenceNumber);
      expect(cursors.of({ partitionkey: 'k3', subject: 'k3' })).toBeUndefined();
    });
  });

  describe('when the log cannot fill a hole', () => {
    it('dead-letters the records held behind it with the reason and keys only, and publishes nothing past it', async () => {
      // arrange: 1 was published; 2 is gone from the log (deleted by hand, or expired) while 3 and 4 are there
      const events = counterIncrements('c-7', 4);
      const log = new InMemoryOutboxLog().append(events).remove({ partitionkey: 'c-7', subject: 'c-7' }, 2);
      const cursors = new InMemoryCursorStore([{ partitionkey: 'c-7', subject: 'c-7', sequence: 1 }]);
      const deadLetters = new FakeDeadLetterSink();
      const fifo = newFifo();
      const { deps, notices } = relayDependencies([fifo], { log, cursors, deadLetters });
      const records = recordsOf([events[2]!, events[3]!]);

      // act
      const outcome = await relayBatch(records, deps);

      // assert
      expect(arrivals(fifo, 'c-7')).toEqual([]);
      expect(outcome.firstFailedSequenceNumber).toBeUndefined();
      expect(outcome).toMatchObject({ blockedByGap: 2, deadLettered: 2 });
      expect(deadLetters.received.map((p) => [p.sequenceNumber, p.errorName, p.keys])).toEqual([
        [records[0]!.sequenceNumber, 'SequenceGapError', { pk: outboxPartitionKey('c-7'), sk: outboxSortKey('c-7', 3) }],
        [records[1]!.sequenceNumber, 'SequenceGapError', { pk: outboxPartitionKey('c-7'), sk: outboxSortKey('c-7', 4) }],
      ]);
      expect(deadLetters.received[0]!.reason).toMatch(/sequence 2 .*not in the outbox log/);
      expect(JSON.stringify(deadLetters.sends)).not.toContain('"value"');
      expect(cursors.of({ partitionkey: 'c-7', subject: 'c-7' })?.sequence).toBe(1);
      expect(notices).toContainEqual(expect.objectContaining({ kind: 'gap', partitionkey: 'c-7', subject: 'c-7', missing: 2, heldBack: [3, 4] }));
    });

    it('publishes up to the hole and holds back what follows it', async () => {
      // arrange: a new stream whose 3 is unreadable in the log (a corrupt item); the batch has 2 and 4
      const events = counterIncrements('c-8', 4);
      const log = new InMemoryOutboxLog().append(events).remove({ partitionkey: 'c-8', subject: 'c-8' }, 3).appendUnreadable({ partitionkey: 'c-8', subject: 'c-8' }, 3, 'envelope is not JSON');
      const fifo = newFifo();
      const { deps, cursors } = relayDependencies([fifo], { log });

      // act
      await relayBatch(recordsOf([events[3]!, events[1]!]), deps);

      // assert
      expect(arrivals(fifo, 'c-8')).toEqual([1, 2]);
      expect(cursors.of({ partitionkey: 'c-8', subject: 'c-8' })?.sequence).toBe(2);
    });
  });

  describe('where a stream without a cursor starts', () => {
    it('starts at the lowest sequence still in the log', async () => {
      // arrange: 1 and 2 were removed by TTL; 3 and 4 are logged, the batch has 5
      const events = counterIncrements('c-9', 5);
      const log = new InMemoryOutboxLog().append(events.slice(2));
      const fifo = newFifo();
      const { deps } = relayDependencies([fifo], { log });

      // act
      await relayBatch(recordsOf([events[4]!]), deps);

      // assert
      expect(arrivals(fifo, 'c-9')).toEqual([3, 4, 5]);
    });

    it('does not count items past their TTL (not yet deleted) as the start, so a half-deleted past is no hole', async () => {
      // arrange: 1 and 3 are expired but not deleted yet, 2 was deleted; 4 is live, the batch has 5
      const now = COMMIT_TIME;
      const expired = Math.floor(now.getTime() / 1000) - 60;
      const live = Math.floor(now.getTime() / 1000) + 3600;
      const events = counterIncrements('c-10', 5);
      const log = new InMemoryOutboxLog().append([events[0]!, events[2]!], expired).append([events[3]!, events[4]!], live);
      const fifo = newFifo();
      const { deps } = relayDependencies([fifo], { log, now });

      // act
      const outcome = await relayBatch(recordsOf([events[4]!], 1, live), deps);

      // assert
      expect(arrivals(fifo, 'c-10')).toEqual([4, 5]);
      expect(outcome.blockedByGap).toBe(0);
    });
  });

  describe('the cursor it writes', () => {
    it('lives as long as the last event it covers, plus a margin', async () => {
      // arrange
      const events = counterIncrements('c-11', 2);
      const expiresAt = Math.floor(COMMIT_TIME.getTime() / 1000) + 30 * 86_400;
      const { deps, cursors } = relayDependencies([newFifo()], { logged: events });

      // act
      await relayBatch(recordsOf(events, 1, expiresAt), deps);

      // assert
      expect(cursors.of({ partitionkey: 'c-11', subject: 'c-11' })).toEqual({ partitionkey: 'c-11', subject: 'c-11', sequence: 2, expiresAt: expiresAt + CURSOR_TTL_MARGIN_SECONDS });
    });

    it('has no TTL when the outbox keeps its events for good', async () => {
      // arrange
      const events = counterIncrements('c-12', 1);
      const { deps, cursors } = relayDependencies([newFifo()], { logged: events });

      // act
      await relayBatch(recordsOf(events), deps);

      // assert
      expect(cursors.of({ partitionkey: 'c-12', subject: 'c-12' })).toEqual({ partitionkey: 'c-12', subject: 'c-12', sequence: 1 });
    });

    it('is not written when nothing of the stream was published', async () => {
      // arrange
      const events = counterIncrements('c-13', 1);
      const fifo = newFifo().refusing(events, Infinity);
      const { deps, cursors } = relayDependencies([fifo], { logged: events });

      // act
      await relayBatch(recordsOf(events), deps);

      // assert
      expect(cursors.of({ partitionkey: 'c-13', subject: 'c-13' })).toBeUndefined();
    });
  });

  describe('when the cursor table fails', () => {
    it('publishes nothing and retries the whole batch when the cursors cannot be read', async () => {
      // arrange
      const events = counterIncrements('c-14', 2);
      const fifo = newFifo();
      const cursors = new InMemoryCursorStore().failing(1);
      const { deps } = relayDependencies([fifo], { logged: events, cursors });
      const records = recordsOf(events);

      // act
      const outcome = await relayBatch(records, deps);

      // assert
      expect(fifo.calls).toEqual([]);
      expect(outcome.firstFailedSequenceNumber).toBe(records[0]!.sequenceNumber);
      expect((outcome.lastError as Error).name).toBe('ProvisionedThroughputExceededException');
    });

    it('finishes the batch when the cursors cannot be written: a lagging cursor only republishes', async () => {
      // arrange: reads work, every write fails
      const events = counterIncrements('c-15', 2);
      const fifo = newFifo();
      const cursors = new InMemoryCursorStore();
      cursors.put = async () => {
        throw new Error('cursor table unavailable');
      };
      const { deps, notices } = relayDependencies([fifo], { logged: events, cursors });

      // act
      const outcome = await relayBatch(recordsOf(events), deps);

      // assert
      expect(outcome.firstFailedSequenceNumber).toBeUndefined();
      expect(arrivals(fifo, 'c-15')).toEqual([1, 2]);
      expect(notices).toContainEqual(expect.objectContaining({ kind: 'cursor-write-failed', streams: 1 }));
    });
  });
});

/** A small seeded generator (mulberry32), so a failing case can be run again by its seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('relay order under any record order, batching and failures (200 seeded cases)', () => {
  it.each(Array.from({ length: 200 }, (_, i) => i + 1))('seed %i: every event of every stream reaches every target; the ordered one first in sequence order', async (seed) => {
    // arrange: 1–4 streams (two share a partition key) of 1–6 events; records shuffled, cut into
    // 1–4 batches; each target refuses some events for a few attempts (sometimes past maxAttempts)
    const random = seeded(seed);
    const pick = (n: number) => Math.floor(random() * n);
    const subjects = ['s1', 's2', 's3', 's4'].slice(0, 1 + pick(4));
    const streams = subjects.map((subject, i) => counterIncrements(subject, 1 + pick(6), i === 1 ? 'p-shared' : i === 2 ? 'p-shared' : subject));
    const all = streams.flat();
    const shuffled = [...all].sort(() => random() - 0.5);
    const cuts = new Set(Array.from({ length: pick(4) }, () => 1 + pick(Math.max(1, shuffled.length - 1))));
    const batches: EventEnvelope[][] = [];
    let from = 0;
    for (const cut of [...cuts].sort((a, b) => a - b).concat(shuffled.length)) {
      if (cut > from) batches.push(shuffled.slice(from, cut));
      from = cut;
    }
    const bus = newBus().refusing(all.filter(() => random() < 0.2), 1 + pick(4));
    const fifo = newFifo({ maxEntries: 1 + pick(10) }).refusing(all.filter(() => random() < 0.2), 1 + pick(4));
    const { deps } = relayDependencies([bus, fifo], { logged: all });

    // act: batches one after another, each retried as the mapping would until it is done
    let shard = 1;
    for (const batch of batches) {
      const outcomes = await asTheMappingWould(recordsOf(batch, shard), deps, 20);
      expect(outcomes.at(-1)!.firstFailedSequenceNumber, `seed ${seed}`).toBeUndefined();
      shard += batch.length;
    }

    // assert
    for (const [i, subject] of subjects.entries()) {
      expectNoOvertaking(fifo, subject, streams[i]!.length);
      expectEverything(bus, subject, streams[i]!.length);
    }
  });
});

describe('a later event of a stream publishes the events of a batch that was given up', () => {
  it('fills sequences whose records went to the mapping’s dead-letter queue from the log', async () => {
    // arrange: records of k#1..2 exhausted their retries (on AWS: metadata to the on-failure queue)
    const k = counterIncrements('late', 3);
    const fifo = newFifo();
    const { deps } = relayDependencies([fifo], { logged: k });

    // act: only k#3's record ever reaches the relay
    await relayBatch(recordsOf([k[2]!]), deps);

    // assert
    expect(arrivals(fifo, 'late')).toEqual([1, 2, 3]);
  });
});
