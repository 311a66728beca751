import * as z from 'zod';

/** Environment variables a writer gets from `TransactionalOutbox.grantCommit`. */
export const OUTBOX_ENV = {
  tableName: 'OUTBOX_TABLE_NAME',
  source: 'OUTBOX_SOURCE',
  retentionSeconds: 'OUTBOX_RETENTION_SECONDS',
} as const;

export const OutboxConfigSchema = z.object({
  [OUTBOX_ENV.tableName]: z.string().min(1),
  [OUTBOX_ENV.source]: z.string().min(1),
  /** Absent: keep events for good. */
  [OUTBOX_ENV.retentionSeconds]: z.coerce.number().int().positive().optional(),
});
export type OutboxConfig = z.infer<typeof OutboxConfigSchema>;
