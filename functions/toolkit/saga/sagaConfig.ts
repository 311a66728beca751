import * as z from 'zod';
import { jsonEnv } from '../config/parseConfig';

/** Environment variables of a saga's function; the `Saga` construct sets them. */
export const SAGA_ENV = {
  /** `{ "<target>": "<command queue URL>" }`: where each target service takes its commands. */
  commandQueues: 'SAGA_COMMAND_QUEUES',
  /** The saga's own queue: start requests, the steps' events and its (delayed) timers. */
  queueUrl: 'SAGA_QUEUE_URL',
} as const;

export const SagaConfigSchema = z.object({
  [SAGA_ENV.commandQueues]: jsonEnv(z.record(z.string().min(1), z.url())),
  [SAGA_ENV.queueUrl]: z.url(),
});
export type SagaConfig = z.infer<typeof SagaConfigSchema>;
