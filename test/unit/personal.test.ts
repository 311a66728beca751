import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { randomBytes } from 'node:crypto';
import { formatSealed, InMemoryKeyVault, PersonalDataSealer } from '../../functions/toolkit/privacy';
import type { FieldSealer } from '../../functions/toolkit/privacy/ports';
import { openPersonalFields, personal, personalPaths, REDACTED, redactPersonalFields, sealPersonalFields } from '../../functions/toolkit/privacy/personal';

/** An in-memory sealer: readable by the test, refuses erased subjects and values moved to another field. */
class FakeSealer implements FieldSealer {
  readonly erased = new Set<string>();
  async seal(subject: string, field: string, value: string): Promise<string> {
    return `pd1:${subject}:${field}:${Buffer.from(value).toString('base64url')}`;
  }
  async open(sealed: string, field: string): Promise<string> {
    const [, subject, sealedField, data] = sealed.split(':');
    if (this.erased.has(subject!)) throw Object.assign(new Error(`subject ${subject} is erased`), { name: 'SubjectErasedError' });
    if (sealedField !== field) throw Object.assign(new Error('field mismatch'), { name: 'SealedValueError' });
    return Buffer.from(data!, 'base64url').toString();
  }
}

const Customer = z.object({ name: personal(z.string().min(1)), email: personal(z.email()).optional(), tier: z.string() });
const OrderPlaced = z.object({
  orderId: z.string(),
  customer: Customer,
  lines: z.array(z.object({ product: z.string(), note: personal(z.string()).optional() })),
  loyaltyNumber: personal(z.number()).optional(),
});
const plain = {
  orderId: 'o-1',
  customer: { name: 'Ada Lovelace', email: 'ada@example.com', tier: 'gold' },
  lines: [{ product: 'latte', note: 'for Ada' }, { product: 'mocha' }],
  loyaltyNumber: 1234,
};

describe('personal fields', () => {
  it('finds the personal fields of a value, nested and in arrays', async () => {
    expect(await personalPaths(OrderPlaced, plain)).toEqual(['customer.name', 'customer.email', 'lines[0].note', 'loyaltyNumber']);
  });

  it('seals only the personal fields, for the data subject, and the sealed value still satisfies the schema', async () => {
    // arrange
    const sealer = new FakeSealer();

    // act
    const sealed = await sealPersonalFields(OrderPlaced, plain, 'customer-7', sealer);

    // assert
    expect(sealed.orderId).toBe('o-1');
    expect(sealed.customer.tier).toBe('gold');
    expect(sealed.lines[1]).toEqual({ product: 'mocha' });
    expect(JSON.stringify(sealed)).not.toContain('Ada');
    expect(JSON.stringify(sealed)).not.toContain('1234');
    expect(sealed.customer.name).toMatch(/^pd1:customer-7:name:/);
    expect(OrderPlaced.safeParse(sealed).success).toBe(true);
  });

  it('opens them again to the original values and types; sealing twice changes nothing', async () => {
    const sealer = new FakeSealer();
    const sealed = await sealPersonalFields(OrderPlaced, plain, 'customer-7', sealer);
    expect(await sealPersonalFields(OrderPlaced, sealed, 'customer-7', sealer)).toEqual(sealed);
    expect(await openPersonalFields(OrderPlaced, sealed, sealer)).toEqual(plain);
  });

  it('an erased subject’s fields open as null by default, or throw SubjectErasedError when asked', async () => {
    // arrange
    const sealer = new FakeSealer();
    const sealed = await sealPersonalFields(OrderPlaced, plain, 'customer-7', sealer);
    sealer.erased.add('customer-7');

    // act
    const redacted = await openPersonalFields(OrderPlaced, sealed, sealer);

    // assert
    expect(redacted.customer).toEqual({ name: null, email: null, tier: 'gold' });
    expect(redacted.loyaltyNumber).toBeNull();
    expect(OrderPlaced.safeParse(redacted).success).toBe(true);
    await expect(openPersonalFields(OrderPlaced, sealed, sealer, { onErased: 'throw' })).rejects.toMatchObject({ name: 'SubjectErasedError' });
  });

  it('a value sealed inside one object opens wherever that object is embedded', async () => {
    const sealer = new FakeSealer();
    const sealedCustomer = await sealPersonalFields(Customer, plain.customer, 'customer-7', sealer);
    const event = { ...plain, customer: sealedCustomer, lines: [], loyaltyNumber: undefined };
    expect((await openPersonalFields(OrderPlaced, event, sealer)).customer).toEqual(plain.customer);
  });

  it('a sealed value moved to another field does not open', async () => {
    const sealer = new FakeSealer();
    const sealed = await sealPersonalFields(OrderPlaced, plain, 'customer-7', sealer);
    const moved = { ...sealed, customer: { ...sealed.customer, name: sealed.customer.email } };
    await expect(openPersonalFields(OrderPlaced, moved, sealer)).rejects.toMatchObject({ name: 'SealedValueError' });
  });

  it('redacts personal fields for a log line, plaintext or sealed, and keeps the rest', async () => {
    const redacted = await redactPersonalFields(OrderPlaced, plain);
    expect(redacted.customer).toEqual({ name: REDACTED, email: REDACTED, tier: 'gold' });
    expect(redacted.lines).toEqual([{ product: 'latte', note: REDACTED }, { product: 'mocha' }]);
    expect(JSON.stringify(redacted)).not.toMatch(/Ada|1234/);
  });
});

describe('the vault cannot be bypassed by a value shaped like a sealed one', () => {
  const sealer = () => new PersonalDataSealer({ vault: new InMemoryKeyVault() });
  /** What an attacker can write without the key: well-formed, any subject, random iv, tag and bytes. */
  const forged = (subject: string, text: string) =>
    formatSealed({ subject, keyVersion: 1, iv: randomBytes(12), tag: randomBytes(16), ciphertext: Buffer.from(text) });

  it('given a name from outside that looks sealed, when it is sealed, then the vault seals it like any text', async () => {
    // arrange: the subject has a key already (an earlier order), and the attacker knows the format
    const vault = sealer();
    await sealPersonalFields(Customer, { name: 'Ada', tier: 'gold' }, 'customer-7', vault);
    for (const name of [forged('customer-7', 'Robert'), forged('someone-else', 'Robert'), 'pd1:Robert', 'pd1:']) {
      // act
      const sealed = await sealPersonalFields(Customer, { name, tier: 'gold' }, 'customer-7', vault);

      // assert: sealed anew (it changed), and it opens to exactly what was sent
      expect(sealed.name).not.toBe(name);
      expect(await openPersonalFields(Customer, sealed, vault)).toEqual({ name, tier: 'gold' });
    }
  });

  it('given a value the vault sealed, when it passes through again, then it is kept as it is (also once its subject is erased)', async () => {
    // arrange
    const vault = sealer();
    const sealed = await sealPersonalFields(Customer, { name: 'Ada', tier: 'gold' }, 'customer-7', vault);

    // act + assert
    expect(await sealPersonalFields(Customer, sealed, 'customer-7', vault)).toEqual(sealed);
    await vault.erase('customer-7', { erasedBy: 'test' });
    expect(await sealPersonalFields(Customer, sealed, 'customer-7', vault)).toEqual(sealed);
  });

  it('given a genuine sealed value moved into another field, when it is sealed, then it is sealed as text of that field, not trusted', async () => {
    const vault = sealer();
    const sealed = await sealPersonalFields(Customer, { name: 'Ada', email: 'ada@example.com', tier: 'gold' }, 'customer-7', vault);
    const moved = await sealPersonalFields(Customer, { ...sealed, name: sealed.email }, 'customer-7', vault);
    expect(moved.name).not.toBe(sealed.email);
    expect((await openPersonalFields(Customer, moved, vault)).name).toBe(sealed.email);
  });

  it('given an event whose personal field is plaintext, when a consumer opens it, then it is refused as poison without the value in the message', async () => {
    // arrange
    const vault = sealer();
    const event = { name: 'Ada Lovelace', tier: 'gold' };

    // act
    const opening = openPersonalFields(Customer, event, vault);

    // assert
    await expect(opening).rejects.toMatchObject({ name: 'SealedValueError', message: expect.stringContaining('"name"') });
    await expect(opening).rejects.not.toMatchObject({ message: expect.stringContaining('Ada') });
    expect(await openPersonalFields(Customer, event, vault, { plaintext: 'accept' })).toEqual(event);
    expect(await openPersonalFields(Customer, { name: null, tier: 'gold' }, vault)).toEqual({ name: null, tier: 'gold' });
  });
});
