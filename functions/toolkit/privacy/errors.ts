/** Base class of every privacy (crypto-shredding) error. */
export class PrivacyError extends Error {
  override name = 'PrivacyError';
}

/**
 * Poison: the value is not a sealed value of this toolkit, or it fails authentication — it was
 * tampered with, or it belongs to another subject or field, or no data key of its version exists.
 * Retrying cannot help; never carries the value itself.
 */
export class SealedValueError extends PrivacyError {
  override name = 'SealedValueError';
  constructor(
    readonly reason: string,
    readonly context: { readonly subject?: string; readonly field?: string } = {},
    options?: { cause?: unknown },
  ) {
    const where = [context.subject === undefined ? '' : `subject ${context.subject}`, context.field === undefined ? '' : `field "${context.field}"`]
      .filter(Boolean)
      .join(', ');
    super(`Sealed value cannot be opened${where ? ` (${where})` : ''}: ${reason}`, options);
  }
}

/**
 * The subject was erased: their data key is destroyed, so none of their sealed values opens again,
 * and nothing new is sealed for them. Not a failure to retry: drop or anonymise what you hold, or ask
 * `open` for the redacted placeholder instead (`onErased: 'redact'`).
 */
export class SubjectErasedError extends PrivacyError {
  override name = 'SubjectErasedError';
  constructor(
    readonly subject: string,
    /** When the erasure was recorded (ISO 8601), when known. */
    readonly erasedAt?: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Subject ${subject} was erased${erasedAt ? ` at ${erasedAt}` : ''}: their personal data can no longer be opened or sealed (crypto-shredded). Drop or anonymise it; do not retry.`,
      options,
    );
  }
}

/**
 * The subject's wrapped data key is in the key table but KMS will not unwrap it (key disabled or
 * pending deletion outside an erase, wrong key, access denied). Needs an operator; the call is
 * retried like a transient failure meanwhile. The KMS error is the `cause`.
 */
export class KeyUnavailableError extends PrivacyError {
  override name = 'KeyUnavailableError';
  constructor(
    readonly subject: string,
    readonly kmsKeyArn: string,
    options: { cause: unknown },
  ) {
    const reason = options.cause instanceof Error ? options.cause.name : 'unknown error';
    super(`The data key of subject ${subject} cannot be unwrapped with ${kmsKeyArn}: KMS answered ${reason}`, options);
  }
}

/** A subject id the vault cannot use (empty, or longer than `MAX_SUBJECT_BYTES`). A programming error. */
export class InvalidSubjectError extends PrivacyError {
  override name = 'InvalidSubjectError';
  constructor(readonly problem: string) {
    super(`Invalid subject id: ${problem}`);
  }
}
