import * as z from 'zod';
import { jsonEnv } from '../config/parseConfig';

/** Environment variables of the relay function; the construct sets them from these names. */
export const RELAY_ENV = {
  eventBusName: 'RELAY_EVENT_BUS_NAME',
  orderedQueueUrls: 'RELAY_ORDERED_QUEUE_URLS',
  deadLetterQueueUrl: 'RELAY_DEAD_LETTER_QUEUE_URL',
  /** The outbox table, read as a log to fill gaps in a stream's sequence. */
  outboxTableName: 'RELAY_OUTBOX_TABLE_NAME',
  /** The relay's cursor table: the last sequence of each stream published to every target. */
  cursorTableName: 'RELAY_CURSOR_TABLE_NAME',
  maxAttempts: 'RELAY_MAX_ATTEMPTS',
  baseDelayMs: 'RELAY_BASE_DELAY_MS',
  maxDelayMs: 'RELAY_MAX_DELAY_MS',
} as const;

export const RelayConfigSchema = z.object({
  [RELAY_ENV.eventBusName]: z.string().min(1).optional(),
  [RELAY_ENV.orderedQueueUrls]: jsonEnv(z.array(z.url())).default([]),
  [RELAY_ENV.deadLetterQueueUrl]: z.url(),
  [RELAY_ENV.outboxTableName]: z.string().min(1),
  [RELAY_ENV.cursorTableName]: z.string().min(1),
  [RELAY_ENV.maxAttempts]: z.coerce.number().int().min(1).max(20).default(5),
  [RELAY_ENV.baseDelayMs]: z.coerce.number().int().min(1).default(100),
  [RELAY_ENV.maxDelayMs]: z.coerce.number().int().min(1).default(3000),
});
export type RelayConfig = z.infer<typeof RelayConfigSchema>;
