/** Base class of every schema-registry error. */
export class SchemaError extends Error {
  override name = 'SchemaError';
}

/** The registry has no event type of this name. */
export class UnknownEventTypeError extends SchemaError {
  override name = 'UnknownEventTypeError';
  constructor(
    readonly type: string,
    readonly known: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`event type ${type} is not in the schema registry (known: ${known.join(', ') || 'none'})`, options);
  }
}

/** The event type has no such version, or no upcaster/downcaster to or from it. */
export class UnknownSchemaVersionError extends SchemaError {
  override name = 'UnknownSchemaVersionError';
  constructor(
    readonly type: string,
    readonly version: number,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`event type ${type} version ${version}: ${detail}`, options);
  }
}

/**
 * Data does not match the schema of its type and version (before or after an upcaster ran). The
 * message names paths and zod's reasons, never values: payloads may hold personal data.
 */
export class SchemaValidationError extends SchemaError {
  override name = 'SchemaValidationError';
  constructor(
    readonly type: string,
    readonly version: number,
    readonly problems: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`data of ${type} v${version} does not match its schema: ${problems.join('; ')}`, options);
  }
}
