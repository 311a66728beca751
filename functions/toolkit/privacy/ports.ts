import type { PrivacyMode } from './privacyConfig';

/**
 * Seals and opens personal values of one subject. A sealed value is a self-describing string
 * (see sealedValue.ts) that any copy anywhere can be recognised and audited by.
 */
export interface FieldSealer {
  /** Seals `value` for `subject`; `field` is bound in as additional authenticated data. */
  seal(subject: string, field: string, value: string): Promise<string>;
  /**
   * Opens a sealed value of `field`. Throws `SubjectErasedError` once the subject is erased, and
   * `SealedValueError` when the value was tampered with or belongs to another subject or field.
   * With `{ onErased: 'redact' }` an erased subject's value opens as `ERASED_PLACEHOLDER` instead.
   */
  open(sealed: string, field: string, options?: OpenSealedOptions): Promise<string>;
}

export interface OpenSealedOptions {
  /**
   * What opening an erased subject's value does: throw `SubjectErasedError` (`throw`, the default)
   * or return `ERASED_PLACEHOLDER` (`redact`, for display paths that must not fail).
   */
  readonly onErased?: 'throw' | 'redact';
}

/** What `open(…, { onErased: 'redact' })` returns for an erased subject's value. */
export const ERASED_PLACEHOLDER = '[erased]';

/** A subject's plaintext data key (AES-256), in memory only. */
export interface DataKey {
  /** Which of the subject's keys: written into every value it seals. */
  readonly keyVersion: number;
  readonly plaintext: Uint8Array;
}

/** What the key table says of a subject, read cheaply (no KMS call). */
export type SubjectKeyStatus =
  | { readonly state: 'active'; readonly keyVersion: number }
  | { readonly state: 'erased'; readonly erasedAt: string }
  /** Never had a key (or its item was removed without a tombstone). */
  | { readonly state: 'absent' };

export interface EraseOptions {
  /** Who asked (an operator or a workflow id): kept in the tombstone, never personal data. */
  readonly erasedBy: string;
  /** Why, e.g. a ticket id (optional, kept in the tombstone). */
  readonly reason?: string;
}

/** What erasing a subject did (or had done, when it was already erased). */
export interface ErasureReceipt {
  readonly subject: string;
  /** When the tombstone was first written (ISO 8601). */
  readonly erasedAt: string;
  readonly erasedBy: string;
  /** True when an earlier call had erased the subject; this one only completed what was left. */
  readonly alreadyErased: boolean;
  /** How the subject's key was held when erased (`envelope` when they never had one). */
  readonly mode: PrivacyMode;
  /** Strict mode: the subject's own KMS key, now disabled and pending deletion. */
  readonly kmsKey?: {
    readonly arn: string;
    /** `PendingDeletion`, or `Deleted` once KMS has deleted it. */
    readonly state: string;
    /** When KMS deletes it for good (ISO 8601); from then on no backup can be opened. */
    readonly deletionDate?: string;
  };
}

/**
 * Holds subjects' data keys: only wrapped keys at rest, unwrapped by KMS on demand. Adapters:
 * `KmsKeyVault` (DynamoDB + KMS) and `InMemoryKeyVault` (unit tests).
 */
export interface KeyVault {
  /**
   * The subject's current data key, created on first use (two concurrent first uses agree on one
   * key). Throws `SubjectErasedError` once erased: nothing new is sealed for an erased subject.
   */
  currentKey(subject: string): Promise<DataKey>;
  /**
   * The subject's key of `keyVersion`, to open a value; never creates one. Throws
   * `SubjectErasedError` once erased, `SealedValueError` when there is no such key.
   */
  existingKey(subject: string, keyVersion: number): Promise<DataKey>;
  /** The key table's word on the subject, without KMS: the cheap tombstone check. */
  status(subject: string): Promise<SubjectKeyStatus>;
  /**
   * Erases the subject: a tombstone replaces their wrapped key in one conditional write (and, in the
   * strict mode, their KMS key is disabled and scheduled for deletion). Idempotent: a repeat finds
   * the tombstone, finishes anything left undone, and reports `alreadyErased: true`.
   */
  erase(subject: string, options: EraseOptions): Promise<ErasureReceipt>;
}

/** Anything that can erase a subject: a `KeyVault`, or a `PersonalDataSealer` (which also evicts its cache). */
export type SubjectEraser = Pick<KeyVault, 'erase'>;
