import {
  CreateTableCommand,
  DeleteTableCommand,
  DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  UpdateItemCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { CreateAliasCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, KMSClient, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Outbox, outboxPartitionKey } from '../../functions/toolkit/outbox';
import {
  erase,
  erasureAggregate,
  ERASED_PLACEHOLDER,
  formatSealed,
  KeyUnavailableError,
  KmsKeyVault,
  parseSealed,
  PersonalDataSealer,
  SdkCallCounter,
  SealedValueError,
  SUBJECT_ERASED,
  SubjectErasedError,
  type KmsKeyVaultOptions,
  type PrivacyMode,
} from '../../functions/toolkit/privacy';
import { eventually, unique } from '../support/eventually';

// Crypto-shredding on the local cloud, with the real KMS and DynamoDB APIs of the emulator.
const ddb = new DynamoDBClient({});
const kmsCalls = new SdkCallCounter();
const ddbCalls = new SdkCallCounter();
/** The clients the vaults under test use: their calls are counted. */
const kms = kmsCalls.attach(new KMSClient({}));
const countedDdb = ddbCalls.attach(new DynamoDBClient({}));
const admin = new KMSClient({});

const keyTable = unique('privacy-keys');
const outboxTable = unique('privacy-outbox');
const aliasPrefix = `alias/test-privacy/${unique('run')}`;
let cmkArn: string;
/** Strict-mode subjects whose KMS keys must be retired after the run. */
const strictSubjects: string[] = [];

function vaultOptions(mode: PrivacyMode, dynamodb: DynamoDBClient = countedDdb): KmsKeyVaultOptions {
  const common = { dynamodb, kms, tableName: keyTable };
  return mode === 'envelope' ? { ...common, mode, keyArn: cmkArn } : { ...common, mode, aliasPrefix, keyArn: cmkArn };
}

/** A sealer as one Lambda container would hold it: its own vault and a cold cache. */
const newSealer = (mode: PrivacyMode = 'envelope', tombstoneCheckSeconds = 5, dynamodb?: DynamoDBClient) =>
  new PersonalDataSealer({ vault: new KmsKeyVault(vaultOptions(mode, dynamodb)), tombstoneCheckSeconds });

const keyItem = async (subject: string) =>
  unmarshall((await ddb.send(new GetItemCommand({ TableName: keyTable, Key: marshall({ subject }), ConsistentRead: true }))).Item ?? {});

async function createTable(name: string, keys: string[]): Promise<void> {
  await ddb.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: keys.map((AttributeName) => ({ AttributeName, AttributeType: 'S' })),
      KeySchema: keys.map((AttributeName, i) => ({ AttributeName, KeyType: i === 0 ? 'HASH' : 'RANGE' })),
    }),
  );
  await waitUntilTableExists({ client: ddb, maxWaitTime: 60 }, { TableName: name });
}

beforeAll(async () => {
  const created = await admin.send(new CreateKeyCommand({ Description: 'privacy integration test service CMK' }));
  cmkArn = created.KeyMetadata!.Arn!;
  await Promise.all([createTable(keyTable, ['subject']), createTable(outboxTable, ['pk', 'sk'])]);
});

afterAll(async () => {
  const vault = new KmsKeyVault(vaultOptions('per-subject-kms-key', ddb));
  for (const subject of strictSubjects) await vault.erase(subject, { erasedBy: 'test cleanup' });
  await admin.send(new ScheduleKeyDeletionCommand({ KeyId: cmkArn, PendingWindowInDays: 7 }));
  await Promise.all([keyTable, outboxTable].map((TableName) => ddb.send(new DeleteTableCommand({ TableName }))));
});

describe('crypto-shredding on the local cloud (real KMS and DynamoDB APIs)', () => {
  it('round trip: sealed with a KMS data key, opened by another container; only the wrapped key is stored', async () => {
    // arrange
    const subject = unique('ada');
    const writer = newSealer();

    // act
    const sealed = await writer.seal(subject, 'customer.email', 'ada@example.com');
    const opened = await newSealer().open(sealed, 'customer.email');

    // assert
    expect(opened).toBe('ada@example.com');
    expect(sealed).toMatch(/^pd1:/);
    expect(sealed).not.toContain('ada@');
    const item = await keyItem(subject);
    expect(Object.keys(item).sort()).toEqual(['createdAt', 'keyVersion', 'kmsKeyArn', 'mode', 'subject', 'wrappedKey']);
    expect(item).toMatchObject({ subject, keyVersion: 1, kmsKeyArn: cmkArn, mode: 'envelope' });
    expect((item.wrappedKey as Uint8Array).length).toBeGreaterThan(32); // a KMS ciphertext blob, not a 32-byte key
  });

  it('tampered ciphertext, another subject’s header, another field → SealedValueError; a wrapped key moved to another subject → KMS refuses it', async () => {
    // arrange
    const [ada, bob] = [unique('ada'), unique('bob')];
    const sealer = newSealer();
    const sealed = await sealer.seal(ada, 'name', 'Ada');
    await sealer.seal(bob, 'name', 'Bob');
    const parsed = parseSealed(sealed);
    const flipped = Buffer.from(parsed.ciphertext);
    flipped[0] = flipped[0]! ^ 1;

    // act + assert: authentication (AES-GCM with subject and field as additional data)
    await expect(sealer.open(formatSealed({ ...parsed, ciphertext: flipped }), 'name')).rejects.toBeInstanceOf(SealedValueError);
    await expect(sealer.open(formatSealed({ ...parsed, subject: bob }), 'name')).rejects.toThrow(/authentication failed/);
    await expect(sealer.open(sealed, 'email')).rejects.toBeInstanceOf(SealedValueError);

    // act + assert: the encryption context binds a wrapped key to its subject
    const carl = unique('carl');
    await ddb.send(new UpdateItemCommand({ TableName: keyTable, Key: marshall({ subject: carl }), UpdateExpression: 'SET wrappedKey = :k, keyVersion = :v, kmsKeyArn = :a', ExpressionAttributeValues: marshall({ ':k': (await keyItem(ada)).wrappedKey, ':v': 1, ':a': cmkArn }) }));
    const forged = formatSealed({ ...parsed, subject: carl });
    const error = await newSealer().open(forged, 'name').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyUnavailableError);
    expect((error as KeyUnavailableError).cause).toMatchObject({ name: 'InvalidCiphertextException' });
  });

  it('calls KMS a few times per subject over 1,000 seals and opens of 10 subjects, never per call', async () => {
    // arrange
    const subjects = Array.from({ length: 10 }, (_, i) => unique(`bulk${i}`));
    const writer = newSealer();
    const reader = newSealer(); // another container: its own cold cache
    kmsCalls.reset();
    ddbCalls.reset();
    const started = performance.now();

    // act: 500 seals then 500 opens, in concurrent waves of 50
    const sealed: { value: string; plain: string }[] = [];
    for (let wave = 0; wave < 10; wave++) {
      sealed.push(
        ...(await Promise.all(
          subjects.flatMap((subject, s) =>
            Array.from({ length: 5 }, async (_, i) => {
              const plain = `${subject}/${wave}/${i}`;
              return { value: await writer.seal(subject, `field${s}`, plain), plain };
            }),
          ),
        )),
      );
    }
    const opened = [];
    for (let wave = 0; wave < 10; wave++) {
      opened.push(...(await Promise.all(sealed.slice(wave * 50, wave * 50 + 50).map(({ value }) => reader.open(value, `field${subjects.indexOf(parseSealed(value).subject)}`)))));
    }
    const elapsedMs = performance.now() - started;

    // assert
    expect(opened).toEqual(sealed.map((s) => s.plain));
    console.info(`[privacy] 1,000 seals/opens of 10 subjects in ${elapsedMs.toFixed(0)} ms; KMS ${JSON.stringify(kmsCalls.snapshot())}; DynamoDB ${JSON.stringify(ddbCalls.snapshot())}`);
    expect(kmsCalls.count('GenerateDataKey')).toBe(10); // one new data key per subject (writer)
    expect(kmsCalls.count('Decrypt')).toBe(10); // one unwrap per subject (reader's cold cache)
    expect(kmsCalls.total()).toBeLessThanOrEqual(3 * subjects.length);
    expect(ddbCalls.total()).toBeLessThanOrEqual(4 * subjects.length); // reads + first puts (+ a tombstone check if a wave crossed 5 s)
  });

  it.each(['envelope', 'per-subject-kms-key'] as const)('%s: two containers racing for a subject’s first key agree on one key; the loser adopts the winner’s', async (mode) => {
    // arrange: both conditional puts wait until both were sent, so both generate a key before either is stored
    const subject = unique('race');
    if (mode === 'per-subject-kms-key') strictSubjects.push(subject);
    const barrier = new PutBarrier(2);
    const racing = barrier.attach(new DynamoDBClient({}));
    const [first, second] = [newSealer(mode, 5, racing), newSealer(mode, 5, racing)];
    kmsCalls.reset();

    // act
    const [a, b] = await Promise.all([first.seal(subject, 'name', 'from first'), second.seal(subject, 'name', 'from second')]);

    // assert
    console.info(`[privacy] ${mode} first-key race: KMS ${JSON.stringify(kmsCalls.snapshot())}`);
    expect(barrier.arrived).toBe(2);
    expect(barrier.conditionFailures).toBe(1);
    expect(kmsCalls.count('GenerateDataKey') - kmsCalls.errors('GenerateDataKey', 'NotFoundException')).toBe(2);
    expect(parseSealed(a).keyVersion).toBe(parseSealed(b).keyVersion);
    expect(await first.open(b, 'name')).toBe('from second');
    expect(await second.open(a, 'name')).toBe('from first');
    expect(await newSealer(mode).open(a, 'name')).toBe('from first');
    if (mode === 'per-subject-kms-key') {
      // one key is aliased and wraps both data keys; a key that lost the alias race is scheduled for deletion
      const item = await keyItem(subject);
      expect((await admin.send(new DescribeKeyCommand({ KeyId: `${aliasPrefix}/${subject}` }))).KeyMetadata?.Arn).toBe(item.kmsKeyArn);
      expect(kmsCalls.count('ScheduleKeyDeletion')).toBe(kmsCalls.count('CreateKey') - 1);
      expect(kmsCalls.errors('CreateAlias', 'AlreadyExistsException')).toBe(kmsCalls.count('CreateKey') - 1);
    }
  });

  it('strict mode: a subject’s own KMS key and alias; erase leaves the key pending deletion and nothing opens', async () => {
    // arrange
    const subject = unique('strict');
    strictSubjects.push(subject);
    const sealer = newSealer('per-subject-kms-key');
    const sealed = await sealer.seal(subject, 'name', 'Grace');
    const before = await keyItem(subject);
    const alias = `${aliasPrefix}/${subject}`;
    expect(before).toMatchObject({ mode: 'per-subject-kms-key', kmsAlias: alias });
    expect(before.kmsKeyArn).not.toBe(cmkArn);
    expect((await admin.send(new DescribeKeyCommand({ KeyId: alias }))).KeyMetadata?.Arn).toBe(before.kmsKeyArn);
    expect(await newSealer('per-subject-kms-key').open(sealed, 'name')).toBe('Grace');
    const warm = newSealer('per-subject-kms-key', 1);
    expect(await warm.open(sealed, 'name')).toBe('Grace');

    // act
    const receipt = await sealer.erase(subject, { erasedBy: 'operator-1', reason: 'ticket 42' });
    const again = await sealer.erase(subject, { erasedBy: 'operator-2' });

    // assert: the key is pending deletion after the 7-day minimum (its alias goes with it)
    const key = (await admin.send(new DescribeKeyCommand({ KeyId: alias }))).KeyMetadata!;
    expect(key.Arn).toBe(before.kmsKeyArn);
    expect(key.KeyState).toBe('PendingDeletion');
    expect(key.Enabled).toBe(false);
    const days = (key.DeletionDate!.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThan(8);
    expect(receipt).toMatchObject({ subject, alreadyErased: false, erasedBy: 'operator-1', mode: 'per-subject-kms-key', kmsKey: { arn: before.kmsKeyArn, state: 'PendingDeletion' } });
    expect(again).toMatchObject({ alreadyErased: true, erasedAt: receipt.erasedAt, erasedBy: 'operator-1', kmsKey: { state: 'PendingDeletion', deletionDate: receipt.kmsKey!.deletionDate } });
    const tombstone = await keyItem(subject);
    expect(tombstone).toMatchObject({ erasedBy: 'operator-1', reason: 'ticket 42', kmsKeyState: 'PendingDeletion', keyDeletionDate: receipt.kmsKey!.deletionDate });
    expect(tombstone.wrappedKey).toBeUndefined();

    // assert: nothing opens — here, in a cold container, in a warm one after its tombstone check, nor a restored wrapped key
    await expect(sealer.open(sealed, 'name')).rejects.toBeInstanceOf(SubjectErasedError);
    await expect(newSealer('per-subject-kms-key').open(sealed, 'name')).rejects.toMatchObject({ name: 'SubjectErasedError', subject });
    await eventually(() => warm.open(sealed, 'name').then(() => 'opened', (e: Error) => e.name), (r) => r === 'SubjectErasedError', { what: 'the warm container to see the tombstone', timeoutMs: 10_000 });
    const restored = await admin.send(new DecryptCommand({ CiphertextBlob: before.wrappedKey, EncryptionContext: { subject } })).catch((e: Error) => e);
    expect(restored).toBeInstanceOf(Error);
    expect(['DisabledException', 'KMSInvalidStateException']).toContain((restored as Error).name);
  });

  it('strict mode: erasing a subject whose first seal was cut short after aliasing retires the aliased key; a subject with no key just gets a tombstone', async () => {
    // arrange: a key and alias exist, the key item was never stored
    const [cut, none] = [unique('cut'), unique('none')];
    const orphan = (await admin.send(new CreateKeyCommand({ Description: 'a first seal cut short' }))).KeyMetadata!.Arn!;
    await admin.send(new CreateAliasCommand({ AliasName: `${aliasPrefix}/${cut}`, TargetKeyId: orphan }));
    const vault = new KmsKeyVault(vaultOptions('per-subject-kms-key'));

    // act
    const cutShort = await vault.erase(cut, { erasedBy: 'test' });
    const never = await vault.erase(none, { erasedBy: 'test' });

    // assert
    expect(cutShort).toMatchObject({ mode: 'per-subject-kms-key', kmsKey: { arn: orphan, state: 'PendingDeletion' } });
    expect((await admin.send(new DescribeKeyCommand({ KeyId: orphan }))).KeyMetadata?.KeyState).toBe('PendingDeletion');
    expect(never).toMatchObject({ alreadyErased: false, mode: 'envelope' });
    expect(never.kmsKey).toBeUndefined();
    await expect(newSealer('per-subject-kms-key').seal(none, 'name', 'x')).rejects.toBeInstanceOf(SubjectErasedError);
  });

  it('erase twice through the outbox: one privacy.subject.erased event, the same receipt, other subjects still open', async () => {
    // arrange
    const [gone, kept] = [unique('gone'), unique('kept')];
    const sealer = newSealer();
    const outbox = new Outbox({ client: ddb, tableName: outboxTable, source: 'test.privacy' });
    const goneValue = await sealer.seal(gone, 'name', 'Gone Person');
    const keptValue = await sealer.seal(kept, 'name', 'Kept Person');
    const warm = newSealer('envelope', 1);
    expect(await warm.open(goneValue, 'name')).toBe('Gone Person');

    // act
    const first = await erase({ vault: sealer, outbox }, gone, { erasedBy: 'operator-1' });
    const second = await erase({ vault: sealer, outbox }, gone, { erasedBy: 'operator-2' });

    // assert: idempotent
    expect(first).toMatchObject({ subject: gone, alreadyErased: false, published: true, mode: 'envelope' });
    expect(second).toMatchObject({ subject: gone, alreadyErased: true, published: false, erasedAt: first.erasedAt, erasedBy: 'operator-1' });
    const events = await ddb.send(new QueryCommand({ TableName: outboxTable, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: marshall({ ':pk': outboxPartitionKey(erasureAggregate(gone).id) }), ConsistentRead: true }));
    const items = (events.Items ?? []).map((i) => unmarshall(i));
    expect(items.map((i) => i.type)).toEqual([SUBJECT_ERASED]);
    expect(JSON.parse(items[0]!.envelope as string)).toMatchObject({ id: first.eventId, type: SUBJECT_ERASED, data: { subject: gone, erasedAt: first.erasedAt, mode: 'envelope' } });

    // assert: the wrapped key is gone, the tombstone stays
    const tombstone = await keyItem(gone);
    expect(tombstone.wrappedKey).toBeUndefined();
    expect(tombstone).toMatchObject({ erasedAt: first.erasedAt, erasedBy: 'operator-1' });

    // assert: erased at once in this process, within the check interval in another; redacted on request
    await expect(sealer.open(goneValue, 'name')).rejects.toMatchObject({ name: 'SubjectErasedError', subject: gone, erasedAt: first.erasedAt });
    expect(await sealer.open(goneValue, 'name', { onErased: 'redact' })).toBe(ERASED_PLACEHOLDER);
    await expect(sealer.seal(gone, 'name', 'new data')).rejects.toBeInstanceOf(SubjectErasedError);
    await eventually(() => warm.open(goneValue, 'name').then(() => 'opened', (e: Error) => e.name), (r) => r === 'SubjectErasedError', { what: 'the warm container to see the tombstone', timeoutMs: 10_000 });
    expect(await sealer.canOpen(goneValue)).toBe(false);
    expect(await sealer.open(keptValue, 'name')).toBe('Kept Person');
    expect(await newSealer().open(keptValue, 'name')).toBe('Kept Person');
    expect(await sealer.canOpen(keptValue)).toBe(true);
  });

  it('a warm container re-checks the tombstone at most every tombstoneCheckSeconds per subject, not per call', async () => {
    // arrange
    const subject = unique('steady');
    const sealer = newSealer('envelope', 5);
    const sealed = await sealer.seal(subject, 'name', 'Steady');
    ddbCalls.reset();

    // act
    for (let i = 0; i < 20; i++) await Promise.all(Array.from({ length: 10 }, () => sealer.open(sealed, 'name')));

    // assert: 200 opens within a few hundred ms: at most one check
    expect(ddbCalls.count('GetItem')).toBeLessThanOrEqual(1);
  });
});

/**
 * Holds conditional PutItem calls until `parties` of them were sent, then lets them all go (or after
 * 10 s, so a broken test fails instead of hanging): makes the first-key race happen every time.
 */
class PutBarrier {
  arrived = 0;
  conditionFailures = 0;
  private release!: () => void;
  private readonly open = new Promise<void>((resolve) => (this.release = resolve));

  constructor(private readonly parties: number) {}

  attach(client: DynamoDBClient): DynamoDBClient {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'PutItemCommand') return next(args);
        if (++this.arrived >= this.parties) this.release();
        await Promise.race([this.open, new Promise((resolve) => setTimeout(resolve, 10_000))]);
        try {
          return await next(args);
        } catch (error) {
          if ((error as Error).name === 'ConditionalCheckFailedException') this.conditionFailures++;
          throw error;
        }
      },
      { step: 'initialize', name: 'putBarrier' },
    );
    return client;
  }
}
