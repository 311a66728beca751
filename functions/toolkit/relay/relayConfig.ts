import * as z from 'zod';
import { jsonEnv } from '../config/parseConfig';

/** Environment variables of the relay function; the construct sets them from these names. */
export const RELAY_ENV = {
  eventBusName: 'RELAY_EVENT_BUS_NAME',
  orderedQueueUrls: 'RELAY_ORDERED_QUEUE_URLS',
  deadLetterQueueUrl: 'RELAY_DEAD_LETTER_QUEUE_URL',
  maxAttempts: 'RELAY_MAX_ATTEMPTS',
  baseDelayMs: 'RELAY_BASE_DELAY_MS',
  maxDelayMs: 'RELAY_MAX_DELAY_MS',
} as const;

export const RelayConfigSchema = z.object({
  [RELAY_ENV.eventBusName]: z.string().min(1).optional(),
  [RELAY_ENV.orderedQueueUrls]: jsonEnv(z.array(z.url())).default([]),
  [RELAY_ENV.deadLetterQueueUrl]: z.url(),
  [RELAY_ENV.maxAttempts]: z.coerce.number().int().min(1).max(20).default(5),
  [RELAY_ENV.baseDelayMs]: z.coerce.number().int().min(1).default(100),
  [RELAY_ENV.maxDelayMs]: z.coerce.number().int().min(1).default(3000),
});
export type RelayConfig = z.infer<typeof RelayConfigSchema>;
