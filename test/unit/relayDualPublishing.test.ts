import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../../functions/toolkit/envelope';
import { InMemoryCursorStore, InMemoryOutboxLog, relayBatch, toRelayRecord, type EventTarget, type FailedEntry, type RelayDependencies } from '../../functions/toolkit/relay';
import { copyEventId } from '../../functions/toolkit/schemas';
import { walletRegistry } from '../../functions/wallet/schemas';
import { transactionAdded, transactionAddedV1Data, transactionAddedV2Data } from '../fixtures/wallet/transactionAdded';
import { streamRecord, streamSequenceNumber } from './fixtures';

/** An in-memory target: records every call (the events, in the order sent); can refuse ids once. */
class FakeTarget implements EventTarget {
  readonly calls: EventEnvelope[][] = [];
  readonly maxEntries = 10;
  readonly maxBytes = 256 * 1024;
  private readonly refuseOnce = new Set<string>();

  constructor(
    readonly name: string,
    readonly receivesCopies = false,
  ) {}

  sizeOf(event: EventEnvelope): number {
    return Buffer.byteLength(JSON.stringify(event));
  }

  refusingOnce(id: string): this {
    this.refuseOnce.add(id);
    return this;
  }

  async publish(events: readonly EventEnvelope[]): Promise<FailedEntry[]> {
    this.calls.push([...events]);
    const refused = events.filter((e) => this.refuseOnce.delete(e.id));
    return refused.map((e) => ({ id: e.id, code: 'InternalFailure', message: 'try again' }));
  }

  get sent(): Array<{ id: string; dataversion: number }> {
    return this.calls.flat().map((e) => ({ id: e.id, dataversion: e.dataversion }));
  }
}

const records = (...events: EventEnvelope[]) => events.map((e, i) => toRelayRecord(streamRecord(e, streamSequenceNumber(i + 1))));

function dependencies(targets: EventTarget[], alsoPublish?: RelayDependencies['alsoPublish']): RelayDependencies {
  return {
    targets,
    deadLetters: { send: async () => undefined },
    log: new InMemoryOutboxLog(),
    cursors: new InMemoryCursorStore(),
    clock: () => new Date(),
    policy: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 },
    sleep: async () => undefined,
    random: () => 0.5,
    ...(alsoPublish ? { alsoPublish } : {}),
  };
}

describe('relayBatch with dual publishing (alsoPublish: registry.downcasts)', () => {
  const alsoPublish = walletRegistry.downcasts(['wallet.transaction.added']);

  it('publishes each v2 event to the bus twice, as v2 then as its v1 copy; ordered subscribers get v2 only', async () => {
    // arrange
    const first = transactionAdded(2, transactionAddedV2Data({ transactionId: 'tx-1' }), 1);
    const second = transactionAdded(2, transactionAddedV2Data({ transactionId: 'tx-2' }), 2);
    const bus = new FakeTarget('bus:wallet', true);
    const fifo = new FakeTarget('fifo:fraud.fifo');

    // act
    const outcome = await relayBatch(records(first, second), dependencies([bus, fifo], alsoPublish));

    // assert
    expect(outcome.firstFailedSequenceNumber).toBeUndefined();
    expect(bus.sent).toEqual([
      { id: first.id, dataversion: 2 },
      { id: copyEventId(first.id, 1), dataversion: 1 },
      { id: second.id, dataversion: 2 },
      { id: copyEventId(second.id, 1), dataversion: 1 },
    ]);
    expect(fifo.sent).toEqual([
      { id: first.id, dataversion: 2 },
      { id: second.id, dataversion: 2 },
    ]);
    const copy = bus.calls.flat()[1]!;
    expect(copy).toMatchObject({ partitionkey: first.partitionkey, sequence: first.sequence, data: { ...first.data, amount: first.data.amount.amount } });
    expect(outcome.delivered).toEqual({ 'bus:wallet': 4, 'fifo:fraud.fifo': 2 });
  });

  it('copies nothing without the option, nor events the old version cannot express', async () => {
    const euros = transactionAdded(2, transactionAddedV2Data());
    const dollars = transactionAdded(2, transactionAddedV2Data({ amount: { amount: 100, currency: 'USD' } }));
    const old = transactionAdded(1, transactionAddedV1Data(), 2);
    const plainBus = new FakeTarget('bus:plain', true);
    const dualBus = new FakeTarget('bus:dual', true);

    await relayBatch(records(euros), dependencies([plainBus]));
    await relayBatch(records(dollars, old), dependencies([dualBus], alsoPublish));

    expect(plainBus.sent.map((e) => e.id)).toEqual([euros.id]);
    expect(dualBus.sent.map((e) => e.id)).toEqual([dollars.id, old.id]);
  });

  it('retries a refused copy alone, with the same id (so consumers deduplicate it)', async () => {
    const event = transactionAdded(2, transactionAddedV2Data());
    const bus = new FakeTarget('bus:wallet', true).refusingOnce(copyEventId(event.id, 1));

    const outcome = await relayBatch(records(event), dependencies([bus], alsoPublish));

    expect(outcome.firstFailedSequenceNumber).toBeUndefined();
    expect(bus.calls.map((call) => call.map((e) => e.id))).toEqual([[event.id, copyEventId(event.id, 1)], [copyEventId(event.id, 1)]]);
  });

  it('stops the batch at a record whose copy cannot be made, so it and later records are retried in order', async () => {
    const ok = transactionAdded(2, transactionAddedV2Data({ transactionId: 'tx-ok' }), 1);
    const bad = transactionAdded(2, transactionAddedV2Data({ transactionId: 'tx-bad' }), 2);
    const later = transactionAdded(2, transactionAddedV2Data({ transactionId: 'tx-later' }), 3);
    const bus = new FakeTarget('bus:wallet', true);
    const failing = (event: EventEnvelope) => {
      if (event.id === bad.id) throw new TypeError('downcaster bug');
      return alsoPublish(event);
    };

    const outcome = await relayBatch(records(ok, bad, later), dependencies([bus], failing));

    expect(outcome.firstFailedSequenceNumber).toBe(streamSequenceNumber(2));
    expect(outcome.lastError).toBeInstanceOf(TypeError);
    expect(bus.sent.map((e) => e.id)).toEqual([ok.id, copyEventId(ok.id, 1)]);
  });
});
