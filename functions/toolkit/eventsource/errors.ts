import { ConcurrencyError } from '../outbox/errors';

/**
 * A command the domain does not allow (e.g. a debit on a flagged account). Thrown by `decide`;
 * returned to the caller (an HTTP handler maps it to a 4xx with `code`), never retried. Domains may
 * subclass it; `code` is stable and machine-readable, the message is for people and carries no
 * personal data.
 */
export class DomainRejection extends Error {
  override name = 'DomainRejection';
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Base class of the event store's own errors. */
export class EventStoreError extends Error {
  override name = 'EventStoreError';
}

/**
 * An event that does not match its type's schema (after upcasting), or whose type has no schema.
 * On append a programming error, nothing is written; on load the stream is poison until fixed
 * (add the schema or the upcaster). Names the problems by path, never the values.
 */
export class InvalidEventError extends EventStoreError {
  override name = 'InvalidEventError';
  constructor(
    readonly streamId: string,
    readonly type: string,
    readonly problems: string[],
    /** The event's sequence when it was read from the log. */
    readonly sequence?: number,
  ) {
    super(`event ${type}${sequence === undefined ? '' : ` #${sequence}`} of stream ${streamId} is invalid: ${problems.join('; ')}`);
  }
}

/**
 * The stored stream is not a contiguous log: a sequence is missing (e.g. an outbox with a retention
 * expired the events), repeated, or an item belongs to another subject. Loading it would give a wrong
 * state, so it refuses.
 */
export class CorruptStreamError extends EventStoreError {
  override name = 'CorruptStreamError';
  constructor(
    readonly streamId: string,
    readonly problems: string[],
  ) {
    super(`stream ${streamId} cannot be loaded: ${problems.join('; ')}`);
  }
}

/** The stream id is not usable as a partition key and sort-key prefix. */
export class InvalidStreamIdError extends EventStoreError {
  override name = 'InvalidStreamIdError';
  constructor(readonly problem: string) {
    super(`invalid stream id: ${problem}`);
  }
}

/** The state does not survive being stored as a snapshot (JSON and back, then its schema). A programming error. */
export class InvalidSnapshotError extends EventStoreError {
  override name = 'InvalidSnapshotError';
  constructor(
    readonly streamId: string,
    readonly problems: string[],
  ) {
    super(`the state of stream ${streamId} cannot be snapshotted: ${problems.join('; ')}`);
  }
}

/**
 * Another transaction was writing the stream at the same moment (DynamoDB cancels with
 * `TransactionConflict` rather than a failed condition). For the caller the same as a
 * `ConcurrencyError`: reload and decide again.
 */
export class StreamConflictError extends ConcurrencyError {
  override name = 'StreamConflictError';
  constructor(streamId: string, expectedVersion: number, options?: { cause?: unknown }) {
    super(streamId, expectedVersion, undefined, options);
    this.message = `Stream ${streamId} was being written by another transaction while appending at version ${expectedVersion}`;
  }
}
