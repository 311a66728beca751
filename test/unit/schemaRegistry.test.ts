import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { decodeMessage, PoisonMessageError } from '../../functions/toolkit/consumer';
import { parseEvent, UUID_V7 } from '../../functions/toolkit/envelope';
import {
  copyEventId,
  defineEventType,
  defineRegistry,
  SchemaValidationError,
  UnknownEventTypeError,
  UnknownSchemaVersionError,
} from '../../functions/toolkit/schemas';
import { transactionAddedV1ToV2, walletRegistry } from '../../functions/wallet/schemas';
import { v2WithoutUpcaster } from '../fixtures/schemas/registries';
import { TRANSACTION_ADDED, transactionAdded, transactionAddedV1Data, transactionAddedV2Data } from '../fixtures/wallet/transactionAdded';

function thrownBy(act: () => unknown): Error {
  try {
    act();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error, nothing was thrown');
}

describe('a schema registry', () => {
  describe('upcast', () => {
    it('lifts wallet.transaction.added v1 to v2: the amount becomes euros, everything else stays', () => {
      // arrange
      const v1 = transactionAddedV1Data({ amount: -2500 });

      // act
      const lifted = walletRegistry.upcast(TRANSACTION_ADDED, 1, v1);

      // assert
      expect(lifted).toEqual({ version: 2, data: { ...v1, amount: { amount: -2500, currency: 'EUR' } } });
    });

    it('leaves data of the latest version as it is (validated)', () => {
      const v2 = transactionAddedV2Data({ amount: { amount: 700, currency: 'USD' } });

      expect(walletRegistry.upcast(TRANSACTION_ADDED, 2, v2)).toEqual({ version: 2, data: v2 });
    });

    it('knows the latest version of each type', () => {
      expect(walletRegistry.latest(TRANSACTION_ADDED).version).toBe(2);
      expect(walletRegistry.latest('wallet.account.opened').version).toBe(2);
    });

    it('replays a log of old and new events (as the event store reads them) as latest data only', () => {
      // arrange: a log written before and after the v2 change
      const log = [
        { type: TRANSACTION_ADDED, dataversion: 1, data: transactionAddedV1Data({ transactionId: 'tx-1', amount: 10_000 }) },
        { type: TRANSACTION_ADDED, dataversion: 1, data: transactionAddedV1Data({ transactionId: 'tx-2', amount: -2_500 }) },
        { type: TRANSACTION_ADDED, dataversion: 2, data: transactionAddedV2Data({ transactionId: 'tx-3', amount: { amount: -500, currency: 'EUR' } }) },
      ];
      const upcast = walletRegistry.upcaster();

      // act
      const replayed = log.map((e) => walletRegistry.validate(TRANSACTION_ADDED, 2, upcast(e.type, e.dataversion, e.data)) as { amount: { amount: number; currency: string } });

      // assert
      expect(replayed.map((e) => e.amount)).toEqual([
        { amount: 10_000, currency: 'EUR' },
        { amount: -2_500, currency: 'EUR' },
        { amount: -500, currency: 'EUR' },
      ]);
      expect(replayed.reduce((sum, e) => sum + e.amount.amount, 0)).toBe(7_000);
    });
  });

  describe('errors', () => {
    it('refuses invalid data before upcasting, naming the path and never the value', () => {
      const error = thrownBy(() => walletRegistry.upcast(TRANSACTION_ADDED, 1, transactionAddedV1Data({ amount: 'lots-of-money' as unknown as number })));

      expect(error).toBeInstanceOf(SchemaValidationError);
      expect(error.message).toContain('wallet.transaction.added v1');
      expect(error.message).toContain('data.amount');
      expect(error.message).not.toContain('lots-of-money');
    });

    it('refuses what an upcaster returns if it does not match the next version', () => {
      const registry = defineRegistry([
        defineEventType({
          type: 'demo.thing.happened',
          source: 'demo.things',
          versions: { 1: z.object({ n: z.number() }), 2: z.object({ n: z.string() }) },
          // A buggy upcaster: forgets to convert.
          upcast: { 1: (v1) => v1 as unknown as { n: string } },
        }),
      ]);

      const error = thrownBy(() => registry.upcast('demo.thing.happened', 1, { n: 1 }));

      expect(error).toBeInstanceOf(SchemaValidationError);
      expect(error.message).toContain('demo.thing.happened v2');
    });

    it('names an unknown type with the types it knows', () => {
      const error = thrownBy(() => walletRegistry.upcast('wallet.account.vanished', 1, {}));

      expect(error).toBeInstanceOf(UnknownEventTypeError);
      expect(error.message).toContain('wallet.account.vanished');
      expect(error.message).toContain('wallet.transaction.added');
    });

    it('names an unknown version and a missing upcaster', () => {
      expect(thrownBy(() => walletRegistry.upcast(TRANSACTION_ADDED, 7, {}))).toBeInstanceOf(UnknownSchemaVersionError);
      const missing = thrownBy(() => v2WithoutUpcaster.upcast('demo.parcel.shipped', 1, { parcelId: 'p', weightGrams: 5, recipient: 'pd1:x' }));
      expect(missing).toBeInstanceOf(UnknownSchemaVersionError);
      expect(missing.message).toContain('no upcaster to version 2');
    });

    it('refuses a type defined twice and a malformed definition', () => {
      const type = defineEventType({ type: 'demo.a.b', source: 'demo.x', versions: { 1: z.object({}) } });
      expect(() => defineRegistry([type, type])).toThrow(/defined twice/);
      expect(() => defineEventType({ type: 'NotDotted', source: 'demo.x', versions: {} })).toThrow(/dotted.*at least version 1/);
    });

    it('types upcasters: one that returns the wrong shape does not compile', () => {
      const definition = defineEventType({
        type: 'demo.typed.thing',
        source: 'demo.things',
        versions: { 1: z.object({ n: z.number() }), 2: z.object({ n: z.object({ value: z.number() }) }) },
        // @ts-expect-error v2 needs `n: { value }`, not a number
        upcast: { 1: (v1) => ({ n: v1.n }) },
      });
      expect(definition.latestVersion).toBe(2);
      expect(transactionAddedV1ToV2(transactionAddedV1Data()).amount).toEqual({ amount: -2500, currency: 'EUR' });
    });
  });

  describe('consumerSchemas with decodeMessage', () => {
    const schemas = walletRegistry.consumerSchemas([TRANSACTION_ADDED, 'wallet.account.flagged']);

    it('decodes a v1 message into v2 data: the handler sees the latest version only', () => {
      // arrange: an old event still in a queue (or replayed from the log)
      const old = transactionAdded(1, transactionAddedV1Data({ amount: 4200 }));

      // act
      const decoded = decodeMessage(JSON.stringify(old), schemas);

      // assert
      expect(decoded.type).toBe(TRANSACTION_ADDED);
      expect(decoded.id).toBe(old.id);
      expect(decoded.dataversion).toBe(2);
      expect(decoded.data).toEqual({ ...old.data, amount: { amount: 4200, currency: 'EUR' } });
    });

    it('keeps sealed personal fields sealed through the upcaster (they are opened after decoding)', () => {
      const old = transactionAdded(1, transactionAddedV1Data({ payee: { name: 'pd1:abc.def', country: 'DE' } }));

      const decoded = decodeMessage(JSON.stringify({ 'detail-type': TRANSACTION_ADDED, source: old.source, detail: old }), schemas);

      expect(decoded.type === TRANSACTION_ADDED && decoded.data.payee).toEqual({ name: 'pd1:abc.def', country: 'DE' });
    });

    it('decodes a v2 message as it is', () => {
      const current = transactionAdded(2, transactionAddedV2Data({ amount: { amount: 99, currency: 'GBP' } }));

      const decoded = decodeMessage(JSON.stringify(current), schemas);

      expect(decoded.data).toEqual(current.data);
      expect(decoded.dataversion).toBe(2);
    });

    it('treats a version newer than the registry knows, or v1 data that is invalid, as poison', () => {
      const future = transactionAdded(3, transactionAddedV2Data());
      const invalid = transactionAdded(1, { ...transactionAddedV1Data(), amount: 'ten' });

      const tooNew = thrownBy(() => decodeMessage(JSON.stringify(future), schemas));
      const broken = thrownBy(() => decodeMessage(JSON.stringify(invalid), schemas));

      expect(tooNew).toBeInstanceOf(PoisonMessageError);
      expect(tooNew.message).toContain('dataversion 3');
      expect(broken).toBeInstanceOf(PoisonMessageError);
      expect(broken.message).toContain('could not be upcast from version 1 to 2');
      expect(broken.message).toContain('data.amount');
      expect(broken.message).not.toContain('ten');
    });

    it('keeps a plain { version, schema } entry strict: an older version is poison, as before', () => {
      const strict = { [TRANSACTION_ADDED]: { version: 2, schema: walletRegistry.latest(TRANSACTION_ADDED).schema } };
      const old = transactionAdded(1, transactionAddedV1Data());

      expect(thrownBy(() => decodeMessage(JSON.stringify(old), strict))).toBeInstanceOf(PoisonMessageError);
    });
  });

  describe('downcasts (publishing the old version side by side)', () => {
    const alsoPublish = walletRegistry.downcasts([TRANSACTION_ADDED]);

    it('makes a v1 copy of a euro v2 event: same key, sequence, time and trace; its own id and version', () => {
      // arrange
      const v2 = transactionAdded(2, transactionAddedV2Data({ amount: { amount: -1200, currency: 'EUR' } }), 7);

      // act
      const copies = alsoPublish(v2);

      // assert
      expect(copies).toHaveLength(1);
      const copy = copies[0]!;
      expect(parseEvent(copy)).toEqual(copy); // a valid envelope
      expect(copy).toMatchObject({ type: TRANSACTION_ADDED, dataversion: 1, partitionkey: v2.partitionkey, sequence: '7', time: v2.time, traceparent: v2.traceparent, subject: v2.subject, source: v2.source });
      expect(copy.data).toEqual({ ...v2.data, amount: -1200 });
      expect(copy.id).not.toBe(v2.id);
      expect(copy.id).toMatch(UUID_V7);
      expect(copy.id.slice(0, 13)).toBe(v2.id.slice(0, 13)); // same timestamp: sorts with the original
      expect(alsoPublish(v2)[0]!.id).toBe(copy.id); // deterministic: a republished copy is a duplicate
      expect(copyEventId(v2.id, 1)).toBe(copy.id);
    });

    it('makes no copy of what v1 cannot express (another currency), of v1 events or of other types', () => {
      expect(alsoPublish(transactionAdded(2, transactionAddedV2Data({ amount: { amount: 5, currency: 'USD' } })))).toEqual([]);
      expect(alsoPublish(transactionAdded(1, transactionAddedV1Data()))).toEqual([]);
      const flagged = { ...transactionAdded(1, {}), type: 'wallet.account.flagged' };
      expect(alsoPublish(flagged)).toEqual([]);
    });

    it('refuses at once a type that has no downcaster from its latest version', () => {
      expect(() => walletRegistry.downcasts(['wallet.account.opened'])).toThrow(UnknownSchemaVersionError);
    });

    it('gives different copy ids per version and per original', () => {
      const a = transactionAdded(2, transactionAddedV2Data());
      const b = transactionAdded(2, transactionAddedV2Data());
      expect(new Set([copyEventId(a.id, 1), copyEventId(a.id, 2), copyEventId(b.id, 1)]).size).toBe(3);
    });
  });
});
