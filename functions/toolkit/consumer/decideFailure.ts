import { IdempotencyValidationError } from '@aws-lambda-powertools/idempotency';
import { InvalidEnvelopeError } from '../envelope';
import { isPermanent } from '../errors/permanent';
import { backoffDelay } from '../retry/backoff';
import { CircuitOpenError, PoisonMessageError } from './errors';

export interface FailurePolicy {
  /** Deliveries before a message is dead-lettered with its last error. */
  readonly maxAttempts: number;
  readonly backoffBaseSeconds: number;
  readonly backoffMaxSeconds: number;
}

export type FailureDecision =
  | { readonly action: 'dead-letter'; readonly reason: 'poison' | 'attempts-exhausted' }
  | { readonly action: 'retry'; readonly visibilityTimeoutSeconds: number };

/** SQS's longest visibility timeout: 12 hours. */
const MAX_VISIBILITY_TIMEOUT_SECONDS = 43_200;

/**
 * Poison is dead-lettered at once: a message that can never be processed, a reused message id with
 * another payload, and every permanent failure (an erased subject, a commit too large, a state that
 * cannot be snapshotted, …: `isPermanent`).
 */
export const isPoison = (error: unknown): boolean =>
  error instanceof PoisonMessageError ||
  error instanceof InvalidEnvelopeError ||
  error instanceof IdempotencyValidationError ||
  isPermanent(error) ||
  // Errors of another copy of the toolkit (a handler's own bundle) are known by name.
  (error instanceof Error && (error.name === 'SubjectErasedError' || error.name === 'SealedValueError'));

/**
 * What to do with a message whose processing failed on delivery `attempt` (1-based): dead-letter it
 * (poison, or the last attempt), or make it visible again after an exponential backoff with full
 * jitter — or, when its circuit is open, once the circuit may be probed. Pure: `random` is injected.
 */
export function decideFailure(error: unknown, attempt: number, policy: FailurePolicy, random: () => number = Math.random): FailureDecision {
  if (isPoison(error)) return { action: 'dead-letter', reason: 'poison' };
  if (attempt >= policy.maxAttempts) return { action: 'dead-letter', reason: 'attempts-exhausted' };
  // Not before the circuit may be probed: a redelivery sooner would only be refused again.
  if (error instanceof CircuitOpenError) return { action: 'retry', visibilityTimeoutSeconds: Math.min(error.retryAfterSeconds, MAX_VISIBILITY_TIMEOUT_SECONDS) };
  const delayMs = backoffDelay(
    { maxAttempts: policy.maxAttempts, baseDelayMs: policy.backoffBaseSeconds * 1000, maxDelayMs: policy.backoffMaxSeconds * 1000 },
    attempt,
    random,
  );
  return { action: 'retry', visibilityTimeoutSeconds: Math.round(delayMs / 1000) };
}
