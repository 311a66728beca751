import {
  CancelKeyDeletionCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EncryptCommand,
  KMSClient,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';

const errorName = (promise: Promise<unknown>) => promise.then(() => 'no error', (e: Error) => e.name);

// AWS behaviour relied on (crypto-shredding): the encryption context is enforced; a disabled key and
// a key pending deletion refuse to encrypt or decrypt; deletion can be cancelled.
describe('KMS key states (conformance)', () => {
  const kms = new KMSClient({});

  it('enforces the encryption context and refuses disabled and pending-deletion keys', async () => {
    // arrange
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: 'conformance' }));
    const KeyId = KeyMetadata!.KeyId!;
    const context = { subject: 'user-1' };
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId, Plaintext: Buffer.from('secret'), EncryptionContext: context }));

    // act + assert: context
    const opened = await kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context }));
    expect(Buffer.from(opened.Plaintext!).toString()).toBe('secret');
    expect(await errorName(kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { subject: 'user-2' } })))).toBe('InvalidCiphertextException');

    // disabled
    await kms.send(new DisableKeyCommand({ KeyId }));
    expect(await errorName(kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context })))).toBe('DisabledException');
    await kms.send(new EnableKeyCommand({ KeyId }));

    // pending deletion
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId, PendingWindowInDays: 7 }));
    expect((await kms.send(new DescribeKeyCommand({ KeyId }))).KeyMetadata?.KeyState).toBe('PendingDeletion');
    expect(await errorName(kms.send(new EncryptCommand({ KeyId, Plaintext: Buffer.from('x') })))).toBe('KMSInvalidStateException');
    await kms.send(new CancelKeyDeletionCommand({ KeyId }));
    expect((await kms.send(new DescribeKeyCommand({ KeyId }))).KeyMetadata?.KeyState).toBe('Disabled');
  });
});
