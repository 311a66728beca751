import { InvalidSubjectError, SealedValueError } from './errors';

/**
 * The sealed form of one personal value, a self-describing string any copy can be recognised by:
 *
 *     pd1:<subject>:<key version>:<iv>:<tag>:<ciphertext>
 *
 * - `pd1` — format version 1 (personal data, AES-256-GCM);
 * - subject — the data subject's id, UTF-8, base64url (so any id fits and `:` cannot appear);
 * - key version — decimal, from 1: which of the subject's data keys sealed it;
 * - iv (12 bytes), tag (16 bytes), ciphertext — base64url without padding.
 *
 * It holds no plaintext and no key; only the subject's data key opens it, bound to the field it was
 * sealed for (see cipher.ts).
 */
export const SEALED_FORMAT = 'pd1';

export const IV_BYTES = 12;
export const TAG_BYTES = 16;
/** The longest subject id, in UTF-8 bytes (it is a key-table partition key and a KMS encryption context value). */
export const MAX_SUBJECT_BYTES = 256;

export interface SealedValue {
  readonly format: typeof SEALED_FORMAT;
  readonly subject: string;
  readonly keyVersion: number;
  readonly iv: Buffer;
  readonly tag: Buffer;
  readonly ciphertext: Buffer;
}

const B64 = '[A-Za-z0-9_-]';
/** base64url lengths of 12 and 16 bytes without padding. */
const IV_CHARS = 16;
const TAG_CHARS = 22;
const BODY = `pd1:${B64}+:[1-9][0-9]{0,8}:${B64}{${IV_CHARS}}:${B64}{${TAG_CHARS}}:${B64}*`;

/**
 * Finds sealed values in any text (JSON, logs, message bodies): nothing in their alphabet is escaped
 * by JSON, and they never start inside a longer base64url word. Global: use it with
 * `text.matchAll(SEALED_PATTERN)` or `text.match(SEALED_PATTERN)`, which do not share its `lastIndex`.
 * A match is a candidate; `parseSealed` confirms it.
 */
export const SEALED_PATTERN = new RegExp(`(?<!${B64})${BODY}(?!${B64})`, 'g');
const WHOLE = new RegExp(`^${BODY}$`);

/** Whether `value` is a well-formed sealed value (it says nothing about whether it still opens). */
export function isSealed(value: unknown): value is string {
  if (typeof value !== 'string' || !WHOLE.test(value)) return false;
  try {
    parseSealed(value);
    return true;
  } catch {
    return false;
  }
}

/** Splits a sealed value into its parts; `SealedValueError` says what is malformed. */
export function parseSealed(value: string): SealedValue {
  if (typeof value !== 'string') throw new SealedValueError('not a string');
  const parts = value.split(':');
  if (parts[0] !== SEALED_FORMAT) {
    throw new SealedValueError(/^pd\d+$/.test(parts[0] ?? '') ? `unknown format version "${parts[0]}"` : `not a sealed value (it does not start with "${SEALED_FORMAT}:")`);
  }
  if (parts.length !== 6) throw new SealedValueError(`malformed: ${parts.length} parts, expected 6 (format:subject:keyVersion:iv:tag:ciphertext)`);
  const [, subject64, version, iv64, tag64, ciphertext64] = parts as [string, string, string, string, string, string];

  const subjectBytes = decode(subject64, 'subject');
  const subject = subjectBytes.toString('utf8');
  if (subject.length === 0) throw new SealedValueError('malformed: empty subject');
  if (subjectBytes.length > MAX_SUBJECT_BYTES) throw new SealedValueError(`malformed: subject is ${subjectBytes.length} bytes, at most ${MAX_SUBJECT_BYTES}`);
  if (!Buffer.from(subject, 'utf8').equals(subjectBytes)) throw new SealedValueError('malformed: subject is not UTF-8');
  if (!/^[1-9][0-9]{0,8}$/.test(version)) throw new SealedValueError(`malformed: key version "${version.slice(0, 12)}" is not a positive integer`, { subject });
  const iv = decode(iv64, 'iv', subject);
  if (iv.length !== IV_BYTES) throw new SealedValueError(`malformed: iv is ${iv.length} bytes, expected ${IV_BYTES}`, { subject });
  const tag = decode(tag64, 'tag', subject);
  if (tag.length !== TAG_BYTES) throw new SealedValueError(`malformed: tag is ${tag.length} bytes, expected ${TAG_BYTES}`, { subject });
  const ciphertext = decode(ciphertext64, 'ciphertext', subject);
  return { format: SEALED_FORMAT, subject, keyVersion: Number(version), iv, tag, ciphertext };
}

/** The sealed string of its parts (the inverse of `parseSealed`). */
export function formatSealed(parts: Omit<SealedValue, 'format'>): string {
  assertSubject(parts.subject);
  return [
    SEALED_FORMAT,
    Buffer.from(parts.subject, 'utf8').toString('base64url'),
    String(parts.keyVersion),
    parts.iv.toString('base64url'),
    parts.tag.toString('base64url'),
    parts.ciphertext.toString('base64url'),
  ].join(':');
}

/** The subject of a sealed value, or `undefined` when it is not one (for audits: never throws). */
export function subjectOf(value: string): string | undefined {
  try {
    return parseSealed(value).subject;
  } catch {
    return undefined;
  }
}

/** Every well-formed sealed value in `text`, with its subject (for audits). */
export function findSealed(text: string): { readonly value: string; readonly subject: string }[] {
  const found: { value: string; subject: string }[] = [];
  for (const [value] of text.matchAll(SEALED_PATTERN)) {
    const subject = subjectOf(value);
    if (subject !== undefined) found.push({ value, subject });
  }
  return found;
}

/** Throws `InvalidSubjectError` unless `subject` is a usable subject id. */
export function assertSubject(subject: string): void {
  if (typeof subject !== 'string' || subject.length === 0) throw new InvalidSubjectError('it must be a non-empty string');
  const bytes = Buffer.byteLength(subject, 'utf8');
  if (bytes > MAX_SUBJECT_BYTES) throw new InvalidSubjectError(`it is ${bytes} bytes, at most ${MAX_SUBJECT_BYTES}`);
  // A lone surrogate does not survive UTF-8: such an id could not be told from another.
  if (Buffer.from(subject, 'utf8').toString('utf8') !== subject) throw new InvalidSubjectError('it is not valid Unicode (lone surrogate)');
}

/** Canonical base64url only: one sealed value has exactly one spelling. */
function decode(text: string, part: string, subject?: string): Buffer {
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.toString('base64url') !== text) {
    throw new SealedValueError(`malformed: ${part} is not canonical base64url`, subject === undefined ? {} : { subject });
  }
  return bytes;
}
