/** Base class of the business probe's errors. */
export class ProbeError extends Error {
  override name = 'ProbeError';
}

/** Poison: the probe was invoked with an input it cannot use (e.g. a threshold that is not whole seconds). */
export class InvalidProbeInputError extends ProbeError {
  override name = 'InvalidProbeInputError';
  constructor(readonly problems: string[]) {
    super(`Invalid probe input: ${problems.join('; ')}`);
  }
}

/** Transient: some overdue orders could not be reported (infrastructure errors); the others were. A rerun retries them. */
export class OverdueReportFailedError extends ProbeError {
  override name = 'OverdueReportFailedError';
  constructor(readonly orderIds: string[], options?: { cause?: unknown }) {
    super(`Could not report overdue orders ${orderIds.join(', ')}`, options);
  }
}
