/** Base class of saga errors. */
export class SagaError extends Error {
  override name = 'SagaError';
}

/** A saga definition that cannot run (a programming error, found at load time). */
export class InvalidSagaDefinitionError extends SagaError {
  override name = 'InvalidSagaDefinitionError';
  constructor(
    readonly saga: string,
    readonly problems: readonly string[],
  ) {
    super(`Saga ${saga} is not valid: ${problems.join('; ')}`);
  }
}

/** A saga's message that can never be handled (unknown command target, bad timer, bad input): poison. */
export class InvalidSagaMessageError extends SagaError {
  override name = 'InvalidSagaMessageError';
  constructor(
    message: string,
    readonly sagaId?: string,
  ) {
    super(message);
  }
}

/**
 * A domain rejection for the caller: a saga instance with this id was already requested with other
 * input. The same request again is no conflict (a retry changes nothing).
 */
export class SagaConflictError extends SagaError {
  override name = 'SagaConflictError';
  constructor(
    readonly saga: string,
    readonly sagaId: string,
    options?: { cause?: unknown },
  ) {
    super(`${saga} ${sagaId} was already requested with other input; the same request again changes nothing, other input needs another id`, options);
  }
}

/** Transient: the saga instance kept changing under us (concurrent inputs); the message is retried. */
export class SagaContentionError extends SagaError {
  override name = 'SagaContentionError';
  constructor(
    readonly sagaId: string,
    readonly attempts: number,
    options?: { cause?: unknown },
  ) {
    super(`Saga ${sagaId} changed on each of ${attempts} attempts to advance it; will retry`, options);
  }
}
