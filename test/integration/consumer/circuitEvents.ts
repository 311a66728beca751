import * as z from 'zod';

/** Events of the circuit-breaker test consumer: each asks it to call a (fake) downstream system. */
export const CIRCUIT_TEST_SOURCE = 'test.circuit-breaker';
export const DOWNSTREAM_CALL_REQUESTED = 'test.downstream.call-requested';
export const DownstreamCallRequestedSchema = z.object({
  /** The downstream to call, and the name of the circuit around it. */
  downstream: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/),
  label: z.string(),
});
export type DownstreamCallRequested = z.infer<typeof DownstreamCallRequestedSchema>;
