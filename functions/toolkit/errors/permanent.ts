import { CorruptStreamError, InvalidEventError, InvalidSnapshotError, InvalidStreamIdError } from '../eventsource/errors';
import { MessageIdReusedError } from '../inbox/errors';
import { CommitTooLargeError, InvalidCommitError } from '../outbox/errors';
import { SealedValueError, SubjectErasedError } from '../privacy/errors';

/**
 * Failures that retrying can never fix: the same input fails the same way every time. A consumer
 * dead-letters the message at once with the reason; an HTTP API answers a 4xx that says it (never a
 * 500, which tells the caller to retry).
 */
const PERMANENT: ReadonlyArray<{ readonly type: abstract new (...args: never[]) => Error; readonly status: number }> = [
  // The subject's data was crypto-shredded: it will never open, nothing new is sealed for them.
  { type: SubjectErasedError, status: 410 },
  // A value that is not a sealed value of ours, or fails authentication.
  { type: SealedValueError, status: 422 },
  // The commit breaks DynamoDB's limits (items, bytes): the same commit always will.
  { type: CommitTooLargeError, status: 413 },
  { type: InvalidCommitError, status: 422 },
  // The state the command would lead to cannot be stored as a snapshot.
  { type: InvalidSnapshotError, status: 422 },
  { type: InvalidEventError, status: 422 },
  { type: InvalidStreamIdError, status: 400 },
  // The stored stream is not a contiguous log: an operator must repair it.
  { type: CorruptStreamError, status: 422 },
  { type: MessageIdReusedError, status: 409 },
];

/** Whether retrying cannot fix `error`. */
export const isPermanent = (error: unknown): boolean => PERMANENT.some(({ type }) => error instanceof type);

/** The 4xx status that tells an HTTP caller a permanent failure, or undefined for anything else. */
export const permanentStatus = (error: unknown): number | undefined => PERMANENT.find(({ type }) => error instanceof type)?.status;
