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

/** Environment variables of a function that starts instances (`SagaClient`); `Saga.grantStart` sets them. */
export const SAGA_CLIENT_ENV = {
  /** The saga's queue, where start requests go. */
  queueUrl: 'SAGA_CLIENT_QUEUE_URL',
  /** The saga's table, where a start request is recorded first (and instances can be read). */
  tableName: 'SAGA_CLIENT_TABLE_NAME',
} as const;

export const SagaClientConfigSchema = z.object({
  [SAGA_CLIENT_ENV.queueUrl]: z.url(),
  [SAGA_CLIENT_ENV.tableName]: z.string().min(1),
});
export type SagaClientConfig = z.infer<typeof SagaClientConfigSchema>;
