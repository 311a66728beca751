/** Base class of every outbox error. */
export class OutboxError extends Error {
  override name = 'OutboxError';
}

/** Domain rejection: the aggregate changed since it was read. Never retried blindly; reload and decide again. */
export class ConcurrencyError extends OutboxError {
  override name = 'ConcurrencyError';
  constructor(
    readonly aggregateId: string,
    readonly expectedVersion: number,
    /** The version found, or `undefined` when the aggregate does not exist. */
    readonly actualVersion: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(
      `Aggregate ${aggregateId} is at version ${actualVersion ?? 'none (it does not exist)'}, expected ${expectedVersion === 0 ? 'none (a new aggregate)' : expectedVersion}`,
      options,
    );
  }
}

/** Domain rejection: a guard of the commit no longer held (e.g. the order was cancelled meanwhile). */
export class GuardFailedError extends OutboxError {
  override name = 'GuardFailedError';
  constructor(readonly reason: string, options?: { cause?: unknown }) {
    super(`Commit refused: ${reason}`, options);
  }
}

/**
 * Transient: DynamoDB kept cancelling the transaction because other transactions were writing the
 * same items at the same moment (`TransactionConflict`), also after retries with backoff. Nothing was
 * written. Retry later (a consumer's message is retried with backoff; an HTTP caller gets a 503).
 */
export class TransactionConflictError extends OutboxError {
  override name = 'TransactionConflictError';
  constructor(
    readonly attempts: number,
    options?: { cause?: unknown },
  ) {
    super(`the transaction was cancelled ${attempts} times because other transactions were writing the same items (TransactionConflict); nothing was written, retry later`, options);
  }
}

/** The commit breaks a DynamoDB transaction limit; rejected before any call. */
export class CommitTooLargeError extends OutboxError {
  override name = 'CommitTooLargeError';
  constructor(readonly problems: string[]) {
    super(`Commit exceeds DynamoDB transaction limits: ${problems.join('; ')}`);
  }
}

/** The commit itself is malformed (e.g. no events, duplicate aggregate). A programming error. */
export class InvalidCommitError extends OutboxError {
  override name = 'InvalidCommitError';
  constructor(readonly problems: string[]) {
    super(`Invalid commit: ${problems.join('; ')}`);
  }
}
