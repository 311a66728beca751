import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SealedValueError } from './errors';
import { formatSealed, IV_BYTES, SEALED_FORMAT, TAG_BYTES, type SealedValue } from './sealedValue';

/** AES-256: data keys are 32 bytes. */
export const DATA_KEY_BYTES = 32;
const ALGORITHM = 'aes-256-gcm';

/** What a sealed value is bound to besides its key: its subject, key version and field. */
export interface SealContext {
  readonly subject: string;
  readonly keyVersion: number;
  /** The field the value belongs to (e.g. `customer.email`); a value moved to another field fails to open. */
  readonly field: string;
}

/**
 * Seals `plaintext` with AES-256-GCM under the subject's data key: a random 96-bit IV, and the
 * format, subject, key version and field as additional authenticated data — so the header cannot be
 * edited, and a value copied to another subject or field fails authentication.
 * `iv` is for tests only; never reuse an IV with the same key.
 */
export function sealWithKey(key: Uint8Array, context: SealContext, plaintext: string, iv: Buffer = randomBytes(IV_BYTES)): string {
  assertKey(key);
  if (iv.length !== IV_BYTES) throw new RangeError(`iv must be ${IV_BYTES} bytes`);
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(context));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return formatSealed({ subject: context.subject, keyVersion: context.keyVersion, iv, tag: cipher.getAuthTag(), ciphertext });
}

/**
 * Opens a parsed sealed value of `field` with the data key of its subject and key version.
 * Throws `SealedValueError` when authentication fails (tampered, another subject, field or key).
 */
export function openWithKey(key: Uint8Array, sealed: SealedValue, field: string): string {
  assertKey(key);
  const decipher = createDecipheriv(ALGORITHM, key, sealed.iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(additionalData({ subject: sealed.subject, keyVersion: sealed.keyVersion, field }));
  decipher.setAuthTag(sealed.tag);
  try {
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString('utf8');
  } catch (error) {
    throw new SealedValueError('authentication failed: the value was altered, or it belongs to another subject, field or key', { subject: sealed.subject, field }, { cause: error });
  }
}

/** Unambiguous (JSON array) encoding of what the tag authenticates besides the ciphertext. */
function additionalData(context: SealContext): Buffer {
  return Buffer.from(JSON.stringify([SEALED_FORMAT, context.subject, context.keyVersion, context.field]), 'utf8');
}

function assertKey(key: Uint8Array): void {
  if (key.length !== DATA_KEY_BYTES) throw new RangeError(`a data key must be ${DATA_KEY_BYTES} bytes, got ${key.length}`);
}
