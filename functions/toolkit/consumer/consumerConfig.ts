import * as z from 'zod';

/** Environment variables of a consumer function; the `EventConsumer` construct sets them from these names. */
export const CONSUMER_ENV = {
  /** Powertools idempotency records (key attribute `id`, TTL attribute `expiration`). */
  idempotencyTableName: 'CONSUMER_IDEMPOTENCY_TABLE_NAME',
  /** The queue this consumer reads (to change a message's visibility for backoff). */
  queueUrl: 'CONSUMER_QUEUE_URL',
  /** Where poison and exhausted messages go at once, with their reason. */
  deadLetterQueueUrl: 'CONSUMER_DEAD_LETTER_QUEUE_URL',
  /** Deliveries of a message before it is dead-lettered with its last error. */
  maxAttempts: 'CONSUMER_MAX_ATTEMPTS',
  backoffBaseSeconds: 'CONSUMER_BACKOFF_BASE_SECONDS',
  backoffMaxSeconds: 'CONSUMER_BACKOFF_MAX_SECONDS',
  /** How long an event id is remembered: longer than the longest redelivery window. */
  idempotencyExpirySeconds: 'CONSUMER_IDEMPOTENCY_EXPIRY_SECONDS',
} as const;

/**
 * Default idempotency expiry: 48 h. Events can be delivered again for as long as the relay may
 * republish them — the stream keeps records 24 h and the relay's mapping retries within that — so
 * a day more than the stream retention covers every redelivery; FIFO deduplication covers only 5 min.
 */
export const DEFAULT_IDEMPOTENCY_EXPIRY_SECONDS = 48 * 3600;

export const ConsumerConfigSchema = z.object({
  [CONSUMER_ENV.idempotencyTableName]: z.string().min(1),
  [CONSUMER_ENV.queueUrl]: z.url(),
  [CONSUMER_ENV.deadLetterQueueUrl]: z.url(),
  [CONSUMER_ENV.maxAttempts]: z.coerce.number().int().min(1).max(100).default(5),
  [CONSUMER_ENV.backoffBaseSeconds]: z.coerce.number().int().min(0).default(2),
  [CONSUMER_ENV.backoffMaxSeconds]: z.coerce.number().int().min(1).max(43_200).default(300),
  [CONSUMER_ENV.idempotencyExpirySeconds]: z.coerce.number().int().min(60).default(DEFAULT_IDEMPOTENCY_EXPIRY_SECONDS),
});
export type ConsumerConfig = z.infer<typeof ConsumerConfigSchema>;
