/** Base class of projection errors. */
export class ProjectionError extends Error {
  override name = 'ProjectionError';
}

/**
 * Another delivery changed the row between our read and our write (its `version` moved on) more
 * times than the projector retries. Transient: the message is retried with backoff.
 */
export class ProjectionConflictError extends ProjectionError {
  override name = 'ProjectionConflictError';
  constructor(
    readonly key: string,
    readonly expectedVersion: number,
    options?: { cause?: unknown },
  ) {
    super(`projection row ${key} changed concurrently (expected version ${expectedVersion})`, options);
  }
}

/** A stored projection row or summary that does not have the projection's shape. */
export class InvalidProjectionRowError extends ProjectionError {
  override name = 'InvalidProjectionRowError';
  constructor(
    readonly key: string,
    readonly problems: string[],
  ) {
    super(`projection row ${key} is not valid: ${problems.join('; ')}`);
  }
}
