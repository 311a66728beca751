/** Base class of consumer errors. */
export class ConsumerError extends Error {
  override name = 'ConsumerError';
}

/**
 * The message can never be processed as it is (bad JSON, wrong schema, unknown type or version, or a
 * handler's own verdict): it goes to the dead-letter queue at once with this reason, never retried.
 * Handlers throw it (or a subclass) for input that retrying cannot fix.
 */
export class PoisonMessageError extends ConsumerError {
  override name = 'PoisonMessageError';
  constructor(
    message: string,
    readonly eventId?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
