/** Base class of the inbox's errors. */
export class InboxError extends Error {
  override name = 'InboxError';
}

/**
 * The message was applied before: its inbox item is already there, written in the transaction of
 * its effect. Not a failure: the consumer acknowledges the message and does nothing more.
 */
export class AlreadyAppliedError extends InboxError {
  override name = 'AlreadyAppliedError';
  constructor(
    readonly messageId: string,
    options?: { cause?: unknown },
  ) {
    super(`message ${messageId} was applied before (its inbox item exists): nothing to do`, options);
  }
}

/**
 * Poison: a message reuses the id of one applied before but says something else (another digest).
 * It is not a duplicate, and applying it would break "one id, one effect": dead-letter it at once.
 */
export class MessageIdReusedError extends InboxError {
  override name = 'MessageIdReusedError';
  constructor(
    readonly messageId: string,
    options?: { cause?: unknown },
  ) {
    super(`message ${messageId} reuses the id of a message applied before with different content: refused`, options);
  }
}
