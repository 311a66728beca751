import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkCompatibility, PERSONAL_DATA_EXTENSION, renderDocs } from '../../functions/toolkit/schemas';
import { walletRegistry } from '../../functions/wallet/schemas';
import { DOCS, DOCS_DIR, readPublishedSchemas } from '../../scripts/docs';
import { brokenV1, original, v1Removed, v2WithoutUpcaster, v2WithUpcaster } from '../fixtures/schemas/registries';

const FIXTURE_PUBLISHED = readPublishedSchemas(path.join(import.meta.dirname, '..', 'fixtures', 'schemas', 'published'));

describe('breaking changes to published schemas', () => {
  describe('the real registry against the committed docs/schemas', () => {
    const published = readPublishedSchemas(path.join(DOCS_DIR, 'schemas'));

    it('has every published version unchanged, and an upcaster for every version after the first', () => {
      // The schemas are published (not an empty folder that would pass vacuously).
      expect(Object.keys(published)).toEqual(expect.arrayContaining(['wallet.transaction.added.v1', 'wallet.transaction.added.v2', 'fraud.detected.v1']));

      const problems = checkCompatibility(published, walletRegistry);

      // A message here means a published schema was edited in place: bump the version and add an upcaster.
      expect(problems.map((p) => p.message)).toEqual([]);
    });

    it('matches what npm run docs generates now (the committed docs are up to date)', () => {
      const stale = Object.entries(renderDocs(DOCS.types, DOCS.info))
        .filter(([file, text]) => readFileSync(path.join(DOCS_DIR, file), 'utf8') !== text)
        .map(([file]) => file);

      expect(stale, 'run npm run docs and commit docs/').toEqual([]);
    });

    it('marks personal fields in the published schemas', () => {
      const opened = published['wallet.account.opened.v1'] as { properties: { holder: { properties: { name: Record<string, unknown> } } } };
      expect(opened.properties.holder.properties.name[PERSONAL_DATA_EXTENSION]).toBe(true);
    });
  });

  describe('fixtures', () => {
    it('(control) the registry that published the fixture schemas has no problem', () => {
      expect(checkCompatibility(FIXTURE_PUBLISHED, original)).toEqual([]);
    });

    it('catches a published v1 edited in place, and says to bump the version and add an upcaster', () => {
      const problems = checkCompatibility(FIXTURE_PUBLISHED, brokenV1);

      expect(problems).toEqual([expect.objectContaining({ kind: 'changed', type: 'demo.parcel.shipped', version: 1 })]);
      expect(problems[0]!.message).toContain('bump the version and add an upcaster');
    });

    it('catches a v2 added without an upcaster from v1', () => {
      const problems = checkCompatibility(FIXTURE_PUBLISHED, v2WithoutUpcaster);

      expect(problems).toEqual([expect.objectContaining({ kind: 'missing-upcaster', type: 'demo.parcel.shipped', version: 2 })]);
    });

    it('accepts a new version with an upcaster (v1 untouched)', () => {
      expect(checkCompatibility(FIXTURE_PUBLISHED, v2WithUpcaster)).toEqual([]);
    });

    it('catches a published version that left the registry', () => {
      expect(checkCompatibility(FIXTURE_PUBLISHED, v1Removed)).toEqual([expect.objectContaining({ kind: 'removed', type: 'demo.parcel.shipped', version: 1 })]);
    });
  });

  describe('the AsyncAPI document', () => {
    const doc = JSON.parse(readFileSync(path.join(DOCS_DIR, 'asyncapi.json'), 'utf8'));

    it('is AsyncAPI 3.0.0 with a channel per source, a send operation each, and a message per type and version', () => {
      expect(doc.asyncapi).toBe('3.0.0');
      expect(Object.values(doc.channels).map((c) => (c as { address: string }).address)).toEqual(['fraud.detection', 'wallet.accounts']);
      expect(doc.operations.sendWalletAccounts.action).toBe('send');
      expect(doc.operations.sendWalletAccounts.channel).toEqual({ $ref: '#/channels/walletAccounts' });
      const v1 = doc.components.messages.walletTransactionAddedV1;
      const v2 = doc.components.messages.walletTransactionAddedV2;
      expect(v1.headers.properties.dataversion).toEqual({ const: 1 });
      expect(v2.headers.properties.type).toEqual({ const: 'wallet.transaction.added' });
      expect(v1.payload.properties.amount.type).toBe('integer');
      expect(v2.payload.properties.amount.properties.currency.enum).toEqual(['EUR', 'USD', 'GBP']);
      expect(v2.payload.properties.payee.properties.name[PERSONAL_DATA_EXTENSION]).toBe(true);
    });
  });
});
