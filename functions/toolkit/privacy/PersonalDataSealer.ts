import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { ConfigError, parseConfig } from '../config/parseConfig';
import { openWithKey, sealWithKey } from './cipher';
import { DataKeyCache, type CachedDataKey } from './DataKeyCache';
import { SubjectErasedError } from './errors';
import { KmsKeyVault } from './KmsKeyVault';
import {
  ERASED_PLACEHOLDER,
  type DataKey,
  type EraseOptions,
  type ErasureReceipt,
  type FieldSealer,
  type KeyVault,
  type OpenSealedOptions,
  type SubjectEraser,
} from './ports';
import { PRIVACY_ENV, PrivacyConfigSchema, privacyConfigProblems, type PrivacyConfig } from './privacyConfig';
import { assertSubject, parseSealed } from './sealedValue';
import { instrument } from '../observability';

export interface PersonalDataSealerOptions {
  readonly vault: KeyVault;
  /** @default { maxEntries: 1000, maxAgeSeconds: 300 } */
  readonly cache?: { readonly maxEntries: number; readonly maxAgeSeconds: number };
  /**
   * A cached key is used without asking the key table for at most this long; then one cheap read
   * (per subject, shared by concurrent calls) confirms the subject is not erased.
   * @default 5
   */
  readonly tombstoneCheckSeconds?: number;
  readonly clock?: () => Date;
}

export interface FromEnvironmentOptions {
  /** @default process.env */
  readonly env?: Record<string, string | undefined>;
  /** Clients to reuse; new ones (default credentials and region) otherwise. */
  readonly dynamodb?: DynamoDBClient;
  readonly kms?: KMSClient;
  readonly clock?: () => Date;
}

type Status = Awaited<ReturnType<KeyVault['status']>>;

/**
 * Seals and opens personal fields with per-subject data keys from a `KeyVault`, caching plaintext
 * keys briefly (`DataKeyCache`) so that KMS is called about once per subject per cache lifetime,
 * never per value. Concurrent calls for a subject share one key load and one tombstone check.
 *
 * Erasure is seen: at once in this process when erased through `erase` here, and within
 * `tombstoneCheckSeconds` anywhere else (a cached key is re-confirmed against the key table's
 * tombstone at most that often per subject).
 */
export class PersonalDataSealer implements FieldSealer, SubjectEraser {
  private readonly cache: DataKeyCache;
  private readonly clock: () => Date;
  private readonly checkEveryMs: number;
  /** In-flight key loads by subject (`current`: may create; `existing`: only opens). */
  private readonly loads = new Map<string, Promise<DataKey>>();
  private readonly checks = new Map<string, Promise<Status>>();

  constructor(private readonly options: PersonalDataSealerOptions) {
    this.clock = options.clock ?? (() => new Date());
    this.cache = new DataKeyCache({ maxEntries: 1000, maxAgeSeconds: 300, ...options.cache, clock: this.clock });
    this.checkEveryMs = (options.tombstoneCheckSeconds ?? 5) * 1000;
  }

  /** A sealer for a handler, from `PRIVACY_*` environment variables; call once per cold start. */
  static fromEnvironment(options: FromEnvironmentOptions = {}): PersonalDataSealer {
    const config: PrivacyConfig = parseConfig(PrivacyConfigSchema, options.env);
    const problems = privacyConfigProblems(config);
    if (problems.length > 0) throw new ConfigError(problems);
    const common = {
      dynamodb: options.dynamodb ?? instrument(new DynamoDBClient({})),
      kms: options.kms ?? instrument(new KMSClient({})),
      tableName: config[PRIVACY_ENV.keyTableName],
      ...(options.clock ? { clock: options.clock } : {}),
    };
    const keyArn = config[PRIVACY_ENV.keyArn];
    const vault =
      config[PRIVACY_ENV.mode] === 'envelope'
        ? new KmsKeyVault({ ...common, mode: 'envelope', keyArn: keyArn! })
        : new KmsKeyVault({ ...common, mode: 'per-subject-kms-key', aliasPrefix: config[PRIVACY_ENV.aliasPrefix]!, ...(keyArn ? { keyArn } : {}) });
    return new PersonalDataSealer({
      vault,
      cache: { maxEntries: config[PRIVACY_ENV.cacheMaxEntries], maxAgeSeconds: config[PRIVACY_ENV.cacheMaxAgeSeconds] },
      tombstoneCheckSeconds: config[PRIVACY_ENV.tombstoneCheckSeconds],
      ...(options.clock ? { clock: options.clock } : {}),
    });
  }

  get vault(): KeyVault {
    return this.options.vault;
  }

  async seal(subject: string, field: string, value: string): Promise<string> {
    assertSubject(subject);
    const key = await this.key(subject, undefined);
    return sealWithKey(key.plaintext, { subject, keyVersion: key.keyVersion, field }, value);
  }

  async open(sealed: string, field: string, options: OpenSealedOptions = {}): Promise<string> {
    const parsed = parseSealed(sealed);
    try {
      const key = await this.key(parsed.subject, parsed.keyVersion);
      return openWithKey(key.plaintext, parsed, field);
    } catch (error) {
      if (error instanceof SubjectErasedError && options.onErased === 'redact') return ERASED_PLACEHOLDER;
      throw error;
    }
  }

  /**
   * Whether a sealed value can still be opened by anyone with this vault: its subject's key of its
   * version can be unwrapped now (asks the vault, not the cache). For audits; the field is not needed.
   */
  async canOpen(sealed: string): Promise<boolean> {
    try {
      const parsed = parseSealed(sealed);
      await this.options.vault.existingKey(parsed.subject, parsed.keyVersion);
      return true;
    } catch (error) {
      if (error instanceof Error && ['SubjectErasedError', 'SealedValueError', 'KeyUnavailableError'].includes(error.name)) return false;
      throw error;
    }
  }

  /** Erases the subject in the vault, and drops their key from this process at once. */
  async erase(subject: string, options: EraseOptions): Promise<ErasureReceipt> {
    this.forget(subject);
    const receipt = await this.options.vault.erase(subject, options);
    // A load that read the key before the tombstone must not cache it when it completes.
    this.forget(subject);
    return receipt;
  }

  /** The key to seal with (`keyVersion` undefined: the current one, created on first use) or to open with. */
  private async key(subject: string, keyVersion: number | undefined): Promise<DataKey> {
    for (;;) {
      const cached = this.cache.get(subject);
      if (!cached) break;
      if (keyVersion !== undefined && cached.keyVersion !== keyVersion) break;
      if (this.clock().getTime() - cached.checkedAt < this.checkEveryMs) return cached;
      await this.confirmNotErased(subject, cached);
      // Loop: the entry is now confirmed, or gone (erased: thrown above; absent: reload).
    }
    return this.load(subject, keyVersion);
  }

  private async confirmNotErased(subject: string, cached: CachedDataKey): Promise<void> {
    let check = this.checks.get(subject);
    if (!check) {
      check = this.options.vault.status(subject).then((status) => {
        if (status.state === 'active' && status.keyVersion === cached.keyVersion) this.cache.markChecked(subject);
        else this.cache.evict(subject);
        return status;
      });
      const mine = check;
      this.checks.set(subject, mine);
      void mine.finally(() => {
        if (this.checks.get(subject) === mine) this.checks.delete(subject);
      }).catch(() => undefined);
    }
    const status = await check;
    if (status.state === 'erased') throw new SubjectErasedError(subject, status.erasedAt);
  }

  private load(subject: string, keyVersion: number | undefined): Promise<DataKey> {
    const slot = `${keyVersion === undefined ? 'current' : `v${keyVersion}`}\u0000${subject}`;
    const pending = this.loads.get(slot);
    if (pending) return pending;
    const loading: Promise<DataKey> = (
      keyVersion === undefined ? this.options.vault.currentKey(subject) : this.options.vault.existingKey(subject, keyVersion)
    ).then((key) => {
      // Cached only if no erase in this process forgot this load meanwhile; an older version's key
      // (opened for an old value) does not displace the current one.
      if (this.loads.get(slot) === loading && (keyVersion === undefined || !this.cache.get(subject))) this.cache.set(subject, key);
      return key;
    });
    this.loads.set(slot, loading);
    void loading.finally(() => {
      if (this.loads.get(slot) === loading) this.loads.delete(slot);
    }).catch(() => undefined);
    return loading;
  }

  private forget(subject: string): void {
    this.cache.evict(subject);
    this.checks.delete(subject);
    for (const slot of [...this.loads.keys()]) if (slot.endsWith(`\u0000${subject}`)) this.loads.delete(slot);
  }
}
