import * as z from 'zod';
import { jsonEnv } from '../config/parseConfig';

/** Environment variables of a consumer function; the `EventConsumer` construct sets them from these names. */
export const CONSUMER_ENV = {
  /** The consumer's state: inbox items, parked groups, circuits, Powertools records (key `id`, TTL `expiration`). */
  idempotencyTableName: 'CONSUMER_IDEMPOTENCY_TABLE_NAME',
  /** The queue this consumer reads (to change a message's visibility for backoff). */
  queueUrl: 'CONSUMER_QUEUE_URL',
  /** Where poison and exhausted messages go at once, with their reason. */
  deadLetterQueueUrl: 'CONSUMER_DEAD_LETTER_QUEUE_URL',
  /** Deliveries of a message before it is dead-lettered with its last error. */
  maxAttempts: 'CONSUMER_MAX_ATTEMPTS',
  backoffBaseSeconds: 'CONSUMER_BACKOFF_BASE_SECONDS',
  backoffMaxSeconds: 'CONSUMER_BACKOFF_MAX_SECONDS',
  /**
   * How long a message id is remembered (inbox items, Powertools records), in seconds, or `forever`:
   * at least as long as the message can come back (see `EventConsumer`'s dedup window rule).
   */
  dedupWindowSeconds: 'CONSUMER_DEDUP_WINDOW_SECONDS',
  /** JSON list of the event sources the consumer subscribes to; an event from another is poison. Absent: any. */
  eventSources: 'CONSUMER_EVENT_SOURCES',
} as const;

/** Seconds, or `forever`. */
const DedupWindow = z.union([z.literal('forever'), z.coerce.number().int().min(60)]);

export const ConsumerConfigSchema = z.object({
  [CONSUMER_ENV.idempotencyTableName]: z.string().min(1),
  [CONSUMER_ENV.queueUrl]: z.url(),
  [CONSUMER_ENV.deadLetterQueueUrl]: z.url(),
  [CONSUMER_ENV.maxAttempts]: z.coerce.number().int().min(1).max(100).default(5),
  [CONSUMER_ENV.backoffBaseSeconds]: z.coerce.number().int().min(0).default(2),
  [CONSUMER_ENV.backoffMaxSeconds]: z.coerce.number().int().min(1).max(43_200).default(300),
  [CONSUMER_ENV.dedupWindowSeconds]: DedupWindow,
  [CONSUMER_ENV.eventSources]: jsonEnv(z.array(z.string().min(1)).min(1)).optional(),
});
export type ConsumerConfig = z.infer<typeof ConsumerConfigSchema>;
