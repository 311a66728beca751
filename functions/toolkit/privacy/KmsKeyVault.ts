import { createHash } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  AlreadyExistsException,
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  GenerateDataKeyCommand,
  NotFoundException,
  ScheduleKeyDeletionCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { KeyUnavailableError, SealedValueError, SubjectErasedError } from './errors';
import type { DataKey, EraseOptions, ErasureReceipt, KeyVault, SubjectKeyStatus } from './ports';
import { KMS_MIN_PENDING_WINDOW_DAYS, PRIVACY_KEY_TABLE, type PrivacyMode } from './privacyConfig';
import { assertSubject } from './sealedValue';

interface CommonOptions {
  readonly dynamodb: DynamoDBClient;
  readonly kms: KMSClient;
  /** The key table: partition key `subject` (string), nothing else required. */
  readonly tableName: string;
  readonly clock?: () => Date;
}

export type KmsKeyVaultOptions = CommonOptions &
  (
    | {
        /** One service CMK wraps every subject's data key. */
        readonly mode: 'envelope';
        readonly keyArn: string;
      }
    | {
        /** Each subject's data key is wrapped by a KMS key of their own, aliased `<aliasPrefix>/<subject>`. */
        readonly mode: 'per-subject-kms-key';
        readonly aliasPrefix: string;
        /** The service CMK, if the deployment has one: never disabled by an erase, whatever an item says. */
        readonly keyArn?: string;
        /**
         * How long the first data key under a brand-new subject key is retried while KMS refuses it
         * (on AWS a new key, and authorization by a new alias, are eventually consistent: usually
         * seconds, documented as up to five minutes). Then `KeyUnavailableError`, retried later.
         * @default 30
         */
        readonly freshKeyTimeoutSeconds?: number;
      }
  );

/** A key-table item: a subject's wrapped data key, or (with `erasedAt`) their tombstone. */
interface KeyItem {
  readonly subject: string;
  /** The KMS ciphertext of the data key; removed by erase. */
  readonly wrappedKey?: Uint8Array;
  readonly keyVersion?: number;
  /** The KMS key that wrapped it (service CMK or the subject's own). */
  readonly kmsKeyArn?: string;
  /** Strict mode: the alias of the subject's KMS key. */
  readonly kmsAlias?: string;
  /** How the key is held; an item without it predates modes and is `envelope`. */
  readonly mode?: PrivacyMode;
  readonly createdAt?: string;
  readonly erasedAt?: string;
  readonly erasedBy?: string;
  readonly reason?: string;
  readonly kmsKeyState?: string;
  readonly keyDeletionDate?: string;
}

interface Generated {
  readonly plaintext: Uint8Array;
  readonly wrapped: Uint8Array;
  /** The ARN of the KMS key that wrapped it (an alias resolved). */
  readonly kmsKeyArn: string;
}

const FIRST_KEY_VERSION = 1;
/** KMS errors that mean "this key will not unwrap this data key" rather than a passing failure. */
const REFUSALS = new Set(['DisabledException', 'KMSInvalidStateException', 'NotFoundException', 'InvalidCiphertextException', 'IncorrectKeyException', 'AccessDeniedException']);

/**
 * The key vault on DynamoDB and KMS, in either mode (one class: the key-table protocol — first key by
 * conditional put, the loser of a race adopting the winner's key, the tombstone, the idempotent
 * erase — must be the same in both; only two steps differ: which KMS key wraps a new data key, and
 * what erase does in KMS). Every item records the KMS key and mode it was made with, so a table
 * keeps opening after a deployment switches modes.
 *
 * The data key's encryption context is `{ subject }`: a wrapped key copied to another subject's item
 * does not unwrap.
 */
export class KmsKeyVault implements KeyVault {
  private readonly clock: () => Date;

  constructor(private readonly options: KmsKeyVaultOptions) {
    this.clock = options.clock ?? (() => new Date());
  }

  get mode(): PrivacyMode {
    return this.options.mode;
  }

  async currentKey(subject: string): Promise<DataKey> {
    assertSubject(subject);
    const item = await this.read(subject);
    if (item) return this.unwrap(item);
    return this.create(subject);
  }

  async existingKey(subject: string, keyVersion: number): Promise<DataKey> {
    assertSubject(subject);
    const item = await this.read(subject);
    if (!item) throw new SealedValueError('the key table has no data key for this subject', { subject });
    if (item.erasedAt === undefined && item.keyVersion !== keyVersion) {
      throw new SealedValueError(`key version ${keyVersion} is not in the key table (current: ${item.keyVersion ?? 'none'})`, { subject });
    }
    return this.unwrap(item);
  }

  async status(subject: string): Promise<SubjectKeyStatus> {
    assertSubject(subject);
    const got = await this.options.dynamodb.send(
      new GetItemCommand({
        TableName: this.options.tableName,
        Key: this.key(subject),
        ConsistentRead: true,
        ProjectionExpression: '#subject, erasedAt, keyVersion',
        ExpressionAttributeNames: { '#subject': PRIVACY_KEY_TABLE.partitionKey },
      }),
    );
    if (!got.Item) return { state: 'absent' };
    const item = unmarshall(got.Item) as Partial<KeyItem>;
    if (item.erasedAt !== undefined) return { state: 'erased', erasedAt: item.erasedAt };
    if (item.keyVersion === undefined) return { state: 'absent' };
    return { state: 'active', keyVersion: item.keyVersion };
  }

  async erase(subject: string, options: EraseOptions): Promise<ErasureReceipt> {
    assertSubject(subject);
    const now = this.clock().toISOString();
    let tombstone: KeyItem;
    let alreadyErased = false;
    try {
      // One conditional write replaces the wrapped key by the tombstone: no moment has both or neither.
      const updated = await this.options.dynamodb.send(
        new UpdateItemCommand({
          TableName: this.options.tableName,
          Key: this.key(subject),
          UpdateExpression: `SET erasedAt = :now, erasedBy = :by${options.reason === undefined ? '' : ', reason = :reason'} REMOVE wrappedKey`,
          ConditionExpression: 'attribute_not_exists(erasedAt)',
          ExpressionAttributeValues: marshall({ ':now': now, ':by': options.erasedBy, ...(options.reason === undefined ? {} : { ':reason': options.reason }) }),
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      tombstone = this.parse(updated.Attributes) ?? { subject, erasedAt: now, erasedBy: options.erasedBy };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      alreadyErased = true;
      tombstone = this.parse(error.Item) ?? (await this.read(subject)) ?? { subject, erasedAt: now, erasedBy: options.erasedBy };
    }

    // The subject's own KMS key: the one their item names or, when the tombstone landed before a
    // strict-mode first seal stored its item, the one their alias names.
    const kmsKeyArn =
      tombstone.mode === 'per-subject-kms-key' ? tombstone.kmsKeyArn : tombstone.mode === undefined && this.options.mode === 'per-subject-kms-key' ? await this.keyOfAlias(subject) : undefined;
    const mode: PrivacyMode = kmsKeyArn ? 'per-subject-kms-key' : (tombstone.mode ?? 'envelope');
    const receipt = { subject, erasedAt: tombstone.erasedAt ?? now, erasedBy: tombstone.erasedBy ?? options.erasedBy, alreadyErased, mode };
    if (!kmsKeyArn || kmsKeyArn === this.options.keyArn) return receipt;

    // Strict mode: finish in KMS (also when a previous erase stopped after the tombstone). The alias
    // stays until KMS deletes it with the key: grants that follow the alias keep covering the key.
    const kmsKey = await this.retire(kmsKeyArn);
    if (tombstone.kmsKeyArn !== kmsKeyArn || tombstone.kmsKeyState !== kmsKey.state || tombstone.keyDeletionDate !== kmsKey.deletionDate) {
      await this.options.dynamodb.send(
        new UpdateItemCommand({
          TableName: this.options.tableName,
          Key: this.key(subject),
          UpdateExpression: `SET kmsKeyArn = :arn, #mode = :mode, kmsKeyState = :state${kmsKey.deletionDate ? ', keyDeletionDate = :date' : ''}`,
          ConditionExpression: 'attribute_exists(erasedAt)',
          ExpressionAttributeNames: { '#mode': 'mode' },
          ExpressionAttributeValues: marshall({ ':arn': kmsKeyArn, ':mode': mode, ':state': kmsKey.state, ...(kmsKey.deletionDate ? { ':date': kmsKey.deletionDate } : {}) }),
        }),
      );
    }
    return { ...receipt, kmsKey };
  }

  /** The alias a subject's KMS key gets in strict mode (`<aliasPrefix>/<subject, made alias-safe>`). */
  aliasFor(subject: string): string {
    if (this.options.mode !== 'per-subject-kms-key') throw new Error('aliases exist only in per-subject-kms-key mode');
    return `${this.options.aliasPrefix}/${aliasSafe(subject)}`;
  }

  private async create(subject: string): Promise<DataKey> {
    const generated = this.options.mode === 'envelope' ? await this.generateDataKey(subject, this.options.keyArn) : await this.generateUnderSubjectKey(subject);
    const kmsAlias = this.options.mode === 'per-subject-kms-key' ? this.aliasFor(subject) : undefined;
    const item: KeyItem = {
      subject,
      wrappedKey: generated.wrapped,
      keyVersion: FIRST_KEY_VERSION,
      kmsKeyArn: generated.kmsKeyArn,
      mode: this.options.mode,
      createdAt: this.clock().toISOString(),
      ...(kmsAlias === undefined ? {} : { kmsAlias }),
    };
    try {
      await this.options.dynamodb.send(
        new PutItemCommand({
          TableName: this.options.tableName,
          Item: marshall(item, { removeUndefinedValues: true }),
          ConditionExpression: 'attribute_not_exists(#subject)',
          ExpressionAttributeNames: { '#subject': PRIVACY_KEY_TABLE.partitionKey },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // Lost the race for the first key (or the subject was erased meanwhile): use what won.
      const winner = this.parse(error.Item) ?? (await this.read(subject));
      if (!winner) return this.currentKey(subject);
      return this.unwrap(winner);
    }
    return { keyVersion: FIRST_KEY_VERSION, plaintext: generated.plaintext };
  }

  /**
   * Strict mode: a data key under the subject's own KMS key. The alias is the authority on which key
   * that is: if it exists (an earlier attempt, or a container racing this one), its key is used;
   * otherwise a key is created and aliased — and if another container aliased its key first, this
   * one's unused key is discarded and theirs is used. Aliasing before first use also suits grants
   * that allow using a key only while it has an alias under the prefix (`kms:ResourceAliases`).
   */
  private async generateUnderSubjectKey(subject: string): Promise<Generated> {
    const alias = this.aliasFor(subject);
    try {
      return await this.generateDataKey(subject, alias, 'probe');
    } catch (error) {
      if (!(error instanceof NotFoundException)) throw error;
    }
    const created = await this.createSubjectKmsKey();
    try {
      await this.options.kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: created }));
    } catch (error) {
      if (!(error instanceof AlreadyExistsException)) throw error;
      await this.discard(created);
    }
    return this.generateDataKey(subject, alias, 'fresh');
  }

  private async createSubjectKmsKey(): Promise<string> {
    const created = await this.options.kms.send(
      new CreateKeyCommand({
        // No subject id here: descriptions outlive the key material. The alias names the subject.
        Description: 'Personal data key of one data subject (crypto-shredding): deleting it erases their data',
        KeySpec: 'SYMMETRIC_DEFAULT',
        KeyUsage: 'ENCRYPT_DECRYPT',
      }),
    );
    const arn = created.KeyMetadata?.Arn;
    if (!arn) throw new Error('KMS CreateKey returned no key ARN');
    return arn;
  }

  /**
   * A key this container created but lost the alias race with: it never wrapped anything. Scheduled
   * for deletion when the grants allow it; a sealer allowed to use only aliased keys may not touch
   * it, and then it stays (unaliased, holding nothing, $1 a month) for an operator's sweep of keys
   * with this vault's description and no alias.
   */
  private async discard(kmsKeyArn: string): Promise<void> {
    try {
      await this.options.kms.send(new ScheduleKeyDeletionCommand({ KeyId: kmsKeyArn, PendingWindowInDays: KMS_MIN_PENDING_WINDOW_DAYS }));
    } catch (error) {
      if (!(error instanceof Error && error.name === 'AccessDeniedException')) throw error;
    }
  }

  /**
   * `GenerateDataKey` (AES_256, encryption context `{ subject }`) under `keyId` (an ARN or alias).
   * `probe`: a missing alias is answered by KMS's own `NotFoundException`. `fresh`: the key or its
   * alias was just made, so refusals that mean "not visible yet" are retried with backoff for up to
   * `freshKeyTimeoutSeconds`.
   */
  private async generateDataKey(subject: string, keyId: string, use: 'probe' | 'fresh' | 'normal' = 'normal'): Promise<Generated> {
    const timeoutMs = (this.options.mode === 'per-subject-kms-key' ? (this.options.freshKeyTimeoutSeconds ?? 30) : 0) * 1000;
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        const generated = await this.options.kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: { subject } }));
        if (!generated.Plaintext || !generated.CiphertextBlob || !generated.KeyId) throw new Error('KMS GenerateDataKey returned no key');
        return { plaintext: generated.Plaintext, wrapped: generated.CiphertextBlob, kmsKeyArn: generated.KeyId };
      } catch (error) {
        const name = error instanceof Error ? error.name : '';
        const delay = Math.min(100 * 2 ** attempt, 2000);
        if (use === 'fresh' && (name === 'NotFoundException' || name === 'AccessDeniedException') && Date.now() + delay < deadline) {
          await new Promise((resolve) => setTimeout(resolve, delay));
          continue;
        }
        if (use === 'probe' && name === 'NotFoundException') throw error;
        throw REFUSALS.has(name) ? new KeyUnavailableError(subject, keyId, { cause: error }) : error;
      }
    }
  }

  private async unwrap(item: KeyItem): Promise<DataKey> {
    if (item.erasedAt !== undefined) throw new SubjectErasedError(item.subject, item.erasedAt);
    if (!item.wrappedKey || item.keyVersion === undefined || !item.kmsKeyArn) {
      throw new SealedValueError('the key table item has no complete wrapped key', { subject: item.subject });
    }
    try {
      const opened = await this.options.kms.send(
        new DecryptCommand({ KeyId: item.kmsKeyArn, CiphertextBlob: item.wrappedKey, EncryptionContext: { subject: item.subject } }),
      );
      if (!opened.Plaintext) throw new Error('KMS Decrypt returned no plaintext');
      return { keyVersion: item.keyVersion, plaintext: opened.Plaintext };
    } catch (error) {
      if (error instanceof Error && REFUSALS.has(error.name)) throw new KeyUnavailableError(item.subject, item.kmsKeyArn, { cause: error });
      throw error;
    }
  }

  /** The ARN of the KMS key the subject's alias names, if there is one (strict mode). */
  private async keyOfAlias(subject: string): Promise<string | undefined> {
    try {
      return (await this.options.kms.send(new DescribeKeyCommand({ KeyId: this.aliasFor(subject) }))).KeyMetadata?.Arn;
    } catch (error) {
      if (error instanceof NotFoundException) return undefined;
      throw error;
    }
  }

  /** Disables a KMS key and schedules its deletion with the shortest waiting period; idempotent. */
  private async retire(kmsKeyArn: string): Promise<NonNullable<ErasureReceipt['kmsKey']>> {
    let state: string | undefined;
    try {
      const described = await this.options.kms.send(new DescribeKeyCommand({ KeyId: kmsKeyArn }));
      state = described.KeyMetadata?.KeyState;
      // Checked first: AWS refuses DisableKey and ScheduleKeyDeletion on a key pending deletion.
      if (state === 'PendingDeletion') {
        return { arn: kmsKeyArn, state, ...isoDate(described.KeyMetadata?.DeletionDate) };
      }
    } catch (error) {
      if (error instanceof NotFoundException) return { arn: kmsKeyArn, state: 'Deleted' };
      throw error;
    }
    if (state === 'Enabled') await this.options.kms.send(new DisableKeyCommand({ KeyId: kmsKeyArn }));
    const scheduled = await this.options.kms.send(
      new ScheduleKeyDeletionCommand({ KeyId: kmsKeyArn, PendingWindowInDays: KMS_MIN_PENDING_WINDOW_DAYS }),
    );
    return { arn: kmsKeyArn, state: scheduled.KeyState ?? 'PendingDeletion', ...isoDate(scheduled.DeletionDate) };
  }

  private async read(subject: string): Promise<KeyItem | undefined> {
    const got = await this.options.dynamodb.send(new GetItemCommand({ TableName: this.options.tableName, Key: this.key(subject), ConsistentRead: true }));
    return this.parse(got.Item);
  }

  private parse(raw: Record<string, AttributeValue> | undefined): KeyItem | undefined {
    if (!raw || Object.keys(raw).length === 0) return undefined;
    return unmarshall(raw) as KeyItem;
  }

  private key(subject: string): Record<string, AttributeValue> {
    return marshall({ [PRIVACY_KEY_TABLE.partitionKey]: subject });
  }
}

/**
 * A subject id as an alias name segment (KMS allows `[A-Za-z0-9/_-]`): as is when it fits, else the
 * allowed characters plus a hash of the id, so two ids never share an alias.
 */
export function aliasSafe(subject: string): string {
  if (/^[A-Za-z0-9_-]{1,100}$/.test(subject)) return subject;
  const readable = subject.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 60);
  return `${readable}-${createHash('sha256').update(subject, 'utf8').digest('hex').slice(0, 32)}`;
}

function isoDate(date: Date | undefined): { deletionDate?: string } {
  return date ? { deletionDate: date.toISOString() } : {};
}
