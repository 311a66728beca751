import * as z from 'zod';

/** Environment variables of the probe function, set by the `BusinessProbe` construct. */
export const PROBE_ENV = {
  boardTableName: 'PROBE_BOARD_TABLE_NAME',
  overdueAfterSeconds: 'PROBE_OVERDUE_AFTER_SECONDS',
} as const;

const Seconds = z.coerce.number().int().positive();

/** The probe's own settings; its outbox reads the `OUTBOX_*` variables (`outboxFromEnv`). */
export const ProbeConfigSchema = z.object({
  [PROBE_ENV.boardTableName]: z.string().min(1),
  [PROBE_ENV.overdueAfterSeconds]: Seconds,
});
export type ProbeConfig = z.infer<typeof ProbeConfigSchema>;

/**
 * What the probe is invoked with: the schedule's constant input, or a test's. Anything else in it
 * (e.g. the fields of a plain scheduled event) is ignored.
 */
export const ProbeInputSchema = z.object({ overdueAfterSeconds: z.number().int().positive().optional() });
export type ProbeInput = z.infer<typeof ProbeInputSchema>;

/** The probe's CloudWatch metrics (Powertools EMF): the alarms of the construct watch these. */
export const PROBE_METRICS = {
  namespace: 'CoffeeShop',
  /** Powertools adds it to every metric as the `service` dimension. */
  service: 'coffee-probe',
  serviceDimension: 'service',
  overdueOrders: 'OverdueOrders',
  openOrders: 'OpenOrders',
  stageAgeMax: 'StageAgeMax',
  stageDimension: 'Stage',
} as const;
