import { randomBytes } from 'node:crypto';
import { DATA_KEY_BYTES } from './cipher';
import { SealedValueError, SubjectErasedError } from './errors';
import type { DataKey, EraseOptions, ErasureReceipt, KeyVault, SubjectKeyStatus } from './ports';
import { assertSubject } from './sealedValue';

type Entry = { readonly key: DataKey } | { readonly erasedAt: string; readonly erasedBy: string };

/**
 * A `KeyVault` in memory, for unit tests: the same contract as `KmsKeyVault` (first key on first use,
 * tombstones, idempotent erase) without KMS. `calls` counts what a test may want to assert on.
 */
export class InMemoryKeyVault implements KeyVault {
  private readonly subjects = new Map<string, Entry>();
  readonly calls = { currentKey: 0, existingKey: 0, status: 0, erase: 0 };

  constructor(private readonly clock: () => Date = () => new Date()) {}

  async currentKey(subject: string): Promise<DataKey> {
    assertSubject(subject);
    this.calls.currentKey++;
    const entry = this.subjects.get(subject);
    if (entry && 'erasedAt' in entry) throw new SubjectErasedError(subject, entry.erasedAt);
    if (entry) return entry.key;
    const key: DataKey = { keyVersion: 1, plaintext: randomBytes(DATA_KEY_BYTES) };
    this.subjects.set(subject, { key });
    return key;
  }

  async existingKey(subject: string, keyVersion: number): Promise<DataKey> {
    assertSubject(subject);
    this.calls.existingKey++;
    const entry = this.subjects.get(subject);
    if (!entry) throw new SealedValueError('the key table has no data key for this subject', { subject });
    if ('erasedAt' in entry) throw new SubjectErasedError(subject, entry.erasedAt);
    if (entry.key.keyVersion !== keyVersion) throw new SealedValueError(`key version ${keyVersion} is not in the key table`, { subject });
    return entry.key;
  }

  async status(subject: string): Promise<SubjectKeyStatus> {
    this.calls.status++;
    const entry = this.subjects.get(subject);
    if (!entry) return { state: 'absent' };
    return 'erasedAt' in entry ? { state: 'erased', erasedAt: entry.erasedAt } : { state: 'active', keyVersion: entry.key.keyVersion };
  }

  async erase(subject: string, options: EraseOptions): Promise<ErasureReceipt> {
    assertSubject(subject);
    this.calls.erase++;
    const entry = this.subjects.get(subject);
    if (entry && 'erasedAt' in entry) return { subject, erasedAt: entry.erasedAt, erasedBy: entry.erasedBy, alreadyErased: true, mode: 'envelope' };
    const erasedAt = this.clock().toISOString();
    this.subjects.set(subject, { erasedAt, erasedBy: options.erasedBy });
    return { subject, erasedAt, erasedBy: options.erasedBy, alreadyErased: false, mode: 'envelope' };
  }
}
