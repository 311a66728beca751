/** Base class of every envelope error. */
export class EnvelopeError extends Error {
  override name = 'EnvelopeError';
}

/** The input is not a valid CloudEvents envelope of this toolkit: poison, never retried. */
export class InvalidEnvelopeError extends EnvelopeError {
  override name = 'InvalidEnvelopeError';
  constructor(
    readonly problems: string[],
    readonly eventId?: string,
    options?: { cause?: unknown },
  ) {
    super(`Invalid event envelope${eventId ? ` ${eventId}` : ''}: ${problems.join('; ')}`, options);
  }
}
