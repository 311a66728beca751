import * as z from 'zod';
import type { CircuitPolicy } from './circuitBreaker';
import { CONSUMER_ENV } from './consumerConfig';

/**
 * Environment variables of a consumer with a circuit breaker; the `EventConsumer` construct sets them
 * when it is given `circuitBreaker` (and refuses them in `environment`).
 */
export const CIRCUIT_ENV = {
  /** The queue the consumer's mapping reads: with the function's name, it finds the mapping to stop. */
  queueArn: 'CONSUMER_QUEUE_ARN',
  failureThreshold: 'CONSUMER_CIRCUIT_FAILURE_THRESHOLD',
  windowSeconds: 'CONSUMER_CIRCUIT_WINDOW_SECONDS',
  coolDownSeconds: 'CONSUMER_CIRCUIT_COOL_DOWN_SECONDS',
} as const;

/** Environment variables of a consumer's circuit closer (scheduled). */
export const CIRCUIT_CLOSER_ENV = {
  /** The consumer's idempotency table, where its circuits are. */
  tableName: CONSUMER_ENV.idempotencyTableName,
  queueArn: CIRCUIT_ENV.queueArn,
  /** The consumer whose mapping the closer resumes. */
  consumerFunctionName: 'CONSUMER_FUNCTION_NAME',
} as const;

/** Set by the Lambda runtime: the consumer's own name, to find its mapping (an env var naming itself would be a cycle). */
const LAMBDA_FUNCTION_NAME = 'AWS_LAMBDA_FUNCTION_NAME';

const SET_BY_CONSTRUCT = 'is missing: give the EventConsumer `circuitBreaker` props, which set it';
const queueArn = z.string({ error: SET_BY_CONSTRUCT }).regex(/^arn:[\w-]+:sqs:[\w-]+:\d{12}:[\w.-]+$/, 'must be an SQS queue ARN');

/** Defaults and bounds of the construct's `circuitBreaker` props (the construct validates the same bounds). */
export const CIRCUIT_DEFAULTS = { failureThreshold: 5, windowSeconds: 60, coolDownSeconds: 60 } as const;
export const CIRCUIT_BOUNDS = { failureThreshold: { min: 1, max: 1000 }, windowSeconds: { min: 1, max: 86_400 }, coolDownSeconds: { min: 1, max: 43_200 } } as const;

const bounded = (name: keyof typeof CIRCUIT_BOUNDS) =>
  z.coerce.number().int().min(CIRCUIT_BOUNDS[name].min).max(CIRCUIT_BOUNDS[name].max).default(CIRCUIT_DEFAULTS[name]);

export const CircuitBreakerConfigSchema = z.object({
  [CONSUMER_ENV.idempotencyTableName]: z.string().min(1),
  [CIRCUIT_ENV.queueArn]: queueArn,
  [CIRCUIT_ENV.failureThreshold]: bounded('failureThreshold'),
  [CIRCUIT_ENV.windowSeconds]: bounded('windowSeconds'),
  [CIRCUIT_ENV.coolDownSeconds]: bounded('coolDownSeconds'),
  [LAMBDA_FUNCTION_NAME]: z.string().min(1),
});
export type CircuitBreakerConfig = z.infer<typeof CircuitBreakerConfigSchema>;

export const circuitPolicyOf = (config: CircuitBreakerConfig): CircuitPolicy => ({
  failureThreshold: config[CIRCUIT_ENV.failureThreshold],
  windowMs: config[CIRCUIT_ENV.windowSeconds] * 1000,
  coolDownMs: config[CIRCUIT_ENV.coolDownSeconds] * 1000,
});

export const functionNameOf = (config: CircuitBreakerConfig): string => config[LAMBDA_FUNCTION_NAME];

export const CircuitCloserConfigSchema = z.object({
  [CIRCUIT_CLOSER_ENV.tableName]: z.string().min(1),
  [CIRCUIT_CLOSER_ENV.queueArn]: queueArn,
  [CIRCUIT_CLOSER_ENV.consumerFunctionName]: z.string().min(1),
});
export type CircuitCloserConfig = z.infer<typeof CircuitCloserConfigSchema>;
