import {
  AlreadyExistsException,
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  GenerateDataKeyCommand,
  KMSClient,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { unique } from '../support/eventually';
import { knownGap } from '../support/knownGap';

const errorName = (promise: Promise<unknown>) => promise.then(() => 'no error', (e: Error) => e.name);

// AWS behaviour relied on by the strict privacy mode (a KMS key per subject): the 7-day minimum
// deletion window, one alias name per account and region, and what a key pending deletion refuses.
describe('KMS for per-subject keys (conformance)', () => {
  const kms = new KMSClient({});
  const newKey = async () => (await kms.send(new CreateKeyCommand({ Description: 'conformance' }))).KeyMetadata!.Arn!;

  it('deletion waits at least 7 days; an alias name is taken once and can be deleted once', async () => {
    // arrange
    const KeyId = await newKey();
    const AliasName = `alias/conformance/${unique('subject')}`;

    // act + assert
    expect(await errorName(kms.send(new ScheduleKeyDeletionCommand({ KeyId, PendingWindowInDays: 6 })))).toBe('ValidationException');
    await kms.send(new CreateAliasCommand({ AliasName, TargetKeyId: KeyId }));
    await expect(kms.send(new CreateAliasCommand({ AliasName, TargetKeyId: await newKey() }))).rejects.toBeInstanceOf(AlreadyExistsException);
    await kms.send(new DeleteAliasCommand({ AliasName }));
    expect(await errorName(kms.send(new DeleteAliasCommand({ AliasName })))).toBe('NotFoundException');
    await kms.send(new DisableKeyCommand({ KeyId }));
    const scheduled = await kms.send(new ScheduleKeyDeletionCommand({ KeyId, PendingWindowInDays: 7 }));
    expect(scheduled.KeyState).toBe('PendingDeletion');
    expect((scheduled.DeletionDate!.getTime() - Date.now()) / 86_400_000).toBeGreaterThan(6.9);
  });

  knownGap(
    'DisableKey on a key pending deletion is refused, and the key stays pending deletion',
    'the strict-mode erase describes the key first and never disables a key pending deletion',
    async () => {
      // arrange
      const KeyId = await newKey();
      await kms.send(new ScheduleKeyDeletionCommand({ KeyId, PendingWindowInDays: 7 }));

      // act
      const disabled = await errorName(kms.send(new DisableKeyCommand({ KeyId })));

      // assert (MiniStack 1.5.33 accepts it and moves the key to Disabled, DeletionDate kept)
      expect((await kms.send(new DescribeKeyCommand({ KeyId }))).KeyMetadata?.KeyState).toBe('PendingDeletion');
      expect(disabled).toBe('KMSInvalidStateException');
    },
  );

  knownGap(
    'Decrypt with a KeyId other than the key that encrypted is refused (IncorrectKeyException)',
    'none needed: the vault passes the KeyId as a safeguard only; the encryption context (enforced) binds a wrapped key to its subject',
    async () => {
      // arrange
      const [KeyId, other] = [await newKey(), await newKey()];
      const { CiphertextBlob } = await kms.send(new GenerateDataKeyCommand({ KeyId, KeySpec: 'AES_256', EncryptionContext: { subject: 's' } }));

      // act + assert (MiniStack 1.5.33 ignores the KeyId and decrypts)
      expect(await errorName(kms.send(new DecryptCommand({ KeyId: other, CiphertextBlob, EncryptionContext: { subject: 's' } })))).toBe('IncorrectKeyException');
    },
  );
});
