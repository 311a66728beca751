import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../functions/toolkit/config/parseConfig';
import {
  DataKeyCache,
  ERASED_PLACEHOLDER,
  erasedFromBackupsAt,
  findSealed,
  formatSealed,
  InMemoryKeyVault,
  isSealed,
  openWithKey,
  parseSealed,
  PersonalDataSealer,
  PRIVACY_ENV,
  SEALED_PATTERN,
  SealedValueError,
  sealWithKey,
  SubjectErasedError,
  subjectOf,
  aliasSafe,
  vaultKnowing,
} from '../../functions/toolkit/privacy';

const key = () => randomBytes(32);
const context = { subject: 'customer-7', keyVersion: 1, field: 'customer.email' };

/** A clock the test moves. */
function manualClock(start = Date.parse('2026-11-23T10:00:00Z')) {
  let now = start;
  return { clock: () => new Date(now), advance: (seconds: number) => (now += seconds * 1000) };
}

/** Flips one bit of one part of a sealed value, keeping it well-formed. */
function tamper(sealed: string, part: 'iv' | 'tag' | 'ciphertext'): string {
  const parsed = parseSealed(sealed);
  const bytes = Buffer.from(parsed[part]);
  bytes[0] = bytes[0]! ^ 1;
  return formatSealed({ ...parsed, [part]: bytes });
}

describe('sealed value format', () => {
  it('is self-describing: format, subject, key version, iv, tag, ciphertext', () => {
    // arrange
    const iv = Buffer.alloc(12, 1);

    // act
    const sealed = sealWithKey(key(), context, 'ada@example.com', iv);

    // assert
    const parts = sealed.split(':');
    expect(parts).toHaveLength(6);
    expect(parts[0]).toBe('pd1');
    expect(Buffer.from(parts[1]!, 'base64url').toString()).toBe('customer-7');
    expect(parts[2]).toBe('1');
    expect(parts[3]).toBe(iv.toString('base64url'));
    expect(Buffer.from(parts[4]!, 'base64url')).toHaveLength(16);
    expect(sealed).not.toContain('ada');
    expect(parseSealed(sealed)).toMatchObject({ format: 'pd1', subject: 'customer-7', keyVersion: 1, iv });
    expect(isSealed(sealed)).toBe(true);
    expect(subjectOf(sealed)).toBe('customer-7');
  });

  it('carries any subject id, even one with colons or non-ASCII characters', () => {
    const subject = 'tenant:42/Zoë';
    const sealed = sealWithKey(key(), { ...context, subject }, 'x');
    expect(parseSealed(sealed).subject).toBe(subject);
  });

  it.each([
    ['not sealed at all', 'hello', /does not start with "pd1:"/],
    ['a future format', 'pd2:YQ:1:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA:', /unknown format version "pd2"/],
    ['a missing part', 'pd1:YQ:1:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA', /5 parts, expected 6/],
    ['key version 0', 'pd1:YQ:0:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA:', /key version "0"/],
    ['a short iv', 'pd1:YQ:1:AAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA:', /iv is 9 bytes/],
    ['a short tag', 'pd1:YQ:1:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAA:', /tag is 13 bytes/],
    ['non-canonical base64url', 'pd1:YR:1:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA:', /subject is not canonical/],
    ['an empty subject', 'pd1::1:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA:', /empty subject/],
  ])('refuses %s with a SealedValueError that says why', (_case, value, reason) => {
    // act
    const error = (() => {
      try {
        parseSealed(value);
      } catch (e) {
        return e;
      }
    })();

    // assert
    expect(error).toBeInstanceOf(SealedValueError);
    expect((error as Error).message).toMatch(reason);
    expect(isSealed(value)).toBe(false);
  });

  it('SEALED_PATTERN finds every sealed value in any text, and nothing else', () => {
    // arrange
    const a = sealWithKey(key(), context, 'Ada');
    const b = sealWithKey(key(), { ...context, subject: 'customer-8' }, 'Bob');
    const empty = sealWithKey(key(), context, '');
    const text = JSON.stringify({ items: [{ name: a }, { note: `text ${b}.` }], empty, noise: 'xpd1:abc pd1:short' });

    // act
    const matches = [...text.matchAll(SEALED_PATTERN)].map((m) => m[0]);

    // assert
    expect(matches).toEqual([a, b, empty]);
    expect(findSealed(text).map((f) => f.subject)).toEqual(['customer-7', 'customer-8', 'customer-7']);
    expect(text.match(SEALED_PATTERN)).toHaveLength(3); // the global regex is safe to reuse
  });
});

describe('AES-256-GCM cipher', () => {
  it('opens what it sealed; the same value seals differently each time (random IV)', () => {
    const k = key();
    const one = sealWithKey(k, context, 'Ada Lovelace ✓');
    const two = sealWithKey(k, context, 'Ada Lovelace ✓');
    expect(one).not.toBe(two);
    expect(openWithKey(k, parseSealed(one), context.field)).toBe('Ada Lovelace ✓');
    expect(openWithKey(k, parseSealed(two), context.field)).toBe('Ada Lovelace ✓');
  });

  it.each(['iv', 'tag', 'ciphertext'] as const)('a tampered %s fails authentication with SealedValueError', (part) => {
    const k = key();
    const sealed = tamper(sealWithKey(k, context, 'Ada'), part);
    expect(() => openWithKey(k, parseSealed(sealed), context.field)).toThrow(SealedValueError);
  });

  it('a value moved to another subject or another field, or opened with another key, fails authentication', () => {
    // arrange
    const k = key();
    const sealed = parseSealed(sealWithKey(k, context, 'Ada'));
    const moved = parseSealed(formatSealed({ ...sealed, subject: 'customer-8' }));

    // act + assert
    expect(() => openWithKey(k, moved, context.field)).toThrow(/authentication failed/);
    expect(() => openWithKey(k, sealed, 'customer.name')).toThrow(SealedValueError);
    expect(() => openWithKey(key(), sealed, context.field)).toThrow(SealedValueError);
    expect(() => openWithKey(k, { ...sealed, keyVersion: 2 }, context.field)).toThrow(SealedValueError);
  });

  it('never puts the value in the error', () => {
    const sealed = parseSealed(sealWithKey(key(), context, 'Ada'));
    const error = (() => {
      try {
        openWithKey(key(), sealed, context.field);
      } catch (e) {
        return e as SealedValueError;
      }
    })();
    expect(error?.message).toContain('customer-7');
    expect(error?.message).not.toContain('Ada');
  });
});

describe('DataKeyCache', () => {
  const dataKey = (n: number) => ({ keyVersion: 1, plaintext: Buffer.alloc(32, n) });

  it('evicts the least recently used subject beyond maxEntries', () => {
    // arrange
    const { clock } = manualClock();
    const cache = new DataKeyCache({ maxEntries: 2, maxAgeSeconds: 60, clock });
    cache.set('a', dataKey(1));
    cache.set('b', dataKey(2));

    // act: using a makes b the least recently used
    cache.get('a');
    cache.set('c', dataKey(3));

    // assert
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')?.plaintext).toEqual(Buffer.alloc(32, 1));
    expect(cache.get('c')).toBeDefined();
    expect(cache.size).toBe(2);
  });

  it('drops a key maxAgeSeconds after it was loaded, however often it is used', () => {
    const { clock, advance } = manualClock();
    const cache = new DataKeyCache({ maxEntries: 10, maxAgeSeconds: 60, clock });
    cache.set('a', dataKey(1));
    advance(59);
    expect(cache.get('a')).toBeDefined();
    cache.markChecked('a');
    advance(1);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('markChecked moves the check time, not the age; evict drops at once', () => {
    const { clock, advance } = manualClock();
    const cache = new DataKeyCache({ maxEntries: 10, maxAgeSeconds: 60, clock });
    const loaded = cache.set('a', dataKey(1));
    advance(10);
    cache.markChecked('a');
    expect(cache.get('a')).toMatchObject({ loadedAt: loaded.loadedAt, checkedAt: loaded.loadedAt + 10_000 });
    expect(cache.evict('a')).toBe(true);
    expect(cache.get('a')).toBeUndefined();
  });
});

describe('PersonalDataSealer (in-memory vault)', () => {
  function given(tombstoneCheckSeconds = 5) {
    const time = manualClock();
    const vault = new InMemoryKeyVault(time.clock);
    const sealer = new PersonalDataSealer({ vault, tombstoneCheckSeconds, clock: time.clock, cache: { maxEntries: 100, maxAgeSeconds: 300 } });
    return { ...time, vault, sealer };
  }

  it('loads a subject’s key once for many concurrent calls, and re-checks the tombstone at most every tombstoneCheckSeconds', async () => {
    // arrange
    const { vault, sealer, advance } = given(5);

    // act: 100 concurrent seals on a cold cache, then opens over 12 s
    const sealed = await Promise.all(Array.from({ length: 100 }, (_, i) => sealer.seal('s-1', 'name', `v${i}`)));
    const opened: string[] = [];
    for (let second = 0; second < 12; second++) {
      opened.push(...(await Promise.all(sealed.slice(0, 10).map((s) => sealer.open(s, 'name')))));
      advance(1);
    }

    // assert
    expect(vault.calls.currentKey).toBe(1);
    expect(vault.calls.existingKey).toBe(0);
    expect(vault.calls.status).toBe(2); // at 5 s and at 10 s, shared by the concurrent opens
    expect(opened.slice(0, 3)).toEqual(['v0', 'v1', 'v2']);
  });

  it('an erase through the sealer refuses the subject at once; redact returns the placeholder; others still open', async () => {
    // arrange
    const { vault, sealer } = given();
    const ada = await sealer.seal('ada', 'name', 'Ada');
    const bob = await sealer.seal('bob', 'name', 'Bob');

    // act
    const first = await sealer.erase('ada', { erasedBy: 'test' });
    const second = await sealer.erase('ada', { erasedBy: 'test' });

    // assert
    expect(first.alreadyErased).toBe(false);
    expect(second).toMatchObject({ alreadyErased: true, erasedAt: first.erasedAt });
    await expect(sealer.open(ada, 'name')).rejects.toBeInstanceOf(SubjectErasedError);
    await expect(sealer.open(ada, 'name')).rejects.toMatchObject({ subject: 'ada' });
    await expect(sealer.open(ada, 'name', { onErased: 'redact' })).resolves.toBe(ERASED_PLACEHOLDER);
    await expect(sealer.seal('ada', 'name', 'Ada again')).rejects.toBeInstanceOf(SubjectErasedError);
    await expect(sealer.open(bob, 'name')).resolves.toBe('Bob');
    expect(vault.calls.status).toBe(0);
    expect(await sealer.canOpen(ada)).toBe(false);
    expect(await sealer.canOpen(bob)).toBe(true);
  });

  it('an erase elsewhere is seen within tombstoneCheckSeconds, not before', async () => {
    // arrange: another process (the vault directly) erases
    const { vault, sealer, advance } = given(5);
    const ada = await sealer.seal('ada', 'name', 'Ada');
    await vault.erase('ada', { erasedBy: 'elsewhere' });

    // act + assert
    advance(4);
    await expect(sealer.open(ada, 'name')).resolves.toBe('Ada');
    advance(1);
    await expect(sealer.open(ada, 'name')).rejects.toBeInstanceOf(SubjectErasedError);
    await expect(sealer.open(ada, 'name')).rejects.toBeInstanceOf(SubjectErasedError);
  });

  it('tampered values and values of another field are SealedValueErrors, also with redact', async () => {
    const { sealer } = given();
    const sealed = await sealer.seal('ada', 'name', 'Ada');
    await expect(sealer.open(tamper(sealed, 'ciphertext'), 'name', { onErased: 'redact' })).rejects.toBeInstanceOf(SealedValueError);
    await expect(sealer.open(sealed, 'email')).rejects.toBeInstanceOf(SealedValueError);
    await expect(sealer.open('pd1:garbage', 'name')).rejects.toBeInstanceOf(SealedValueError);
  });
});

describe('privacy configuration and helpers', () => {
  it('fromEnvironment lists every missing or bad key at once', () => {
    expect(() => PersonalDataSealer.fromEnvironment({ env: { [PRIVACY_ENV.cacheMaxEntries]: '0' } })).toThrow(ConfigError);
    expect(() => PersonalDataSealer.fromEnvironment({ env: { [PRIVACY_ENV.keyTableName]: 't' } })).toThrow(/PRIVACY_KEY_ARN: required in envelope mode/);
    expect(() => PersonalDataSealer.fromEnvironment({ env: { [PRIVACY_ENV.keyTableName]: 't', [PRIVACY_ENV.mode]: 'per-subject-kms-key' } })).toThrow(
      /PRIVACY_ALIAS_PREFIX: required/,
    );
    expect(PersonalDataSealer.fromEnvironment({ env: { [PRIVACY_ENV.keyTableName]: 't', [PRIVACY_ENV.keyArn]: 'arn:aws:kms:us-east-1:1:key/x' } })).toBeInstanceOf(
      PersonalDataSealer,
    );
  });

  it('erasure is complete in backups after the PITR window, or at the strict mode’s key deletion if sooner', () => {
    const erasedAt = '2026-11-23T10:00:00.000Z';
    const receipt = { subject: 's', erasedAt, erasedBy: 'op', alreadyErased: false, mode: 'envelope' as const };
    expect(erasedFromBackupsAt(receipt).toISOString()).toBe('2026-12-28T10:00:00.000Z');
    expect(erasedFromBackupsAt(receipt, 1).toISOString()).toBe('2026-11-24T10:00:00.000Z');
    const strict = { ...receipt, mode: 'per-subject-kms-key' as const, kmsKey: { arn: 'k', state: 'PendingDeletion', deletionDate: '2026-11-30T10:00:00.000Z' } };
    expect(erasedFromBackupsAt(strict).toISOString()).toBe('2026-11-30T10:00:00.000Z');
  });

  it('alias names: subject ids as they are when KMS allows them, else made safe without collisions', () => {
    expect(aliasSafe('customer-7')).toBe('customer-7');
    expect(aliasSafe('a.b')).toMatch(/^a_b-[0-9a-f]{32}$/);
    expect(aliasSafe('a.b')).not.toBe(aliasSafe('a:b'));
    expect(aliasSafe('x'.repeat(300))).toMatch(/^[A-Za-z0-9_-]{1,100}$/);
  });
});

describe('vaultKnowing: which service’s vault erases a subject', () => {
  const named = (name: string) => ({ name, vault: new InMemoryKeyVault() });
  const pick = (subject: string, vaults: ReturnType<typeof named>[]) => vaultKnowing(subject, vaults, (v) => v.vault.status(subject), (v) => v.name);

  it('picks the vault that holds a key for the subject, or their tombstone (an erase run again)', async () => {
    // arrange: a coffee customer and a wallet account, each sealed by its own service
    const coffee = named('EraseCustomer');
    const wallet = named('EraseHolder');
    await coffee.vault.currentKey('cust-1');
    await wallet.vault.currentKey('acct-1');
    await wallet.vault.erase('acct-1', { erasedBy: 'ops' });

    // act / assert
    expect((await pick('cust-1', [coffee, wallet])).name).toBe('EraseCustomer');
    expect((await pick('acct-1', [coffee, wallet])).name).toBe('EraseHolder');
  });

  it('refuses a subject no vault knows (a typo is not an erasure) and one several vaults know (the operator chooses)', async () => {
    const coffee = named('EraseCustomer');
    const wallet = named('EraseHolder');
    await coffee.vault.currentKey('both');
    await wallet.vault.currentKey('both');
    await expect(pick('nobody', [coffee, wallet])).rejects.toThrow(/no vault knows subject nobody: nothing was sealed for them in EraseCustomer, EraseHolder/);
    await expect(pick('both', [coffee, wallet])).rejects.toThrow(/several vaults know subject both: choose one with --function: EraseCustomer, EraseHolder/);
  });
});
