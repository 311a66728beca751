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

/** A FIFO message diverted to the DLQ because an earlier message of its group is there. */
export class GroupParkedError extends ConsumerError {
  override name = 'GroupParkedError';
  constructor(readonly group: string) {
    super(`message group ${group} is parked behind a dead-lettered message; diverted to keep the group's order until it is redriven`);
  }
}

/**
 * A call refused because its circuit is open (or was just opened by this failure, its `cause`).
 * Transient: the message is retried once the circuit may be probed (`retryAt`, epoch ms), without
 * reaching the other system meanwhile.
 */
export class CircuitOpenError extends ConsumerError {
  override name = 'CircuitOpenError';
  /** Seconds from the refusal to `retryAt`, at least 1: the message's retry delay. */
  readonly retryAfterSeconds: number;
  constructor(
    readonly circuit: string,
    readonly retryAt: number,
    now: number,
    options?: { cause?: unknown },
  ) {
    super(`circuit ${circuit} is open until ${new Date(retryAt).toISOString()}`, options);
    this.retryAfterSeconds = Math.max(1, Math.ceil((retryAt - now) / 1000));
  }
}
