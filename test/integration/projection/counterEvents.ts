import * as z from 'zod';

export const COUNTER_SOURCE = 'test.counter';
/** Routed to the projection's queue by its bus rule (the live path). */
export const COUNTER_INCREMENTED = 'test.counter.incremented';
/**
 * Projected too, but not routed by the rule: the projection learns of these only from the log (or
 * a test sending them to its queue), which lets a test decide what arrives and when.
 */
export const COUNTER_NOTED = 'test.counter.noted';
export const CounterDataSchema = z.object({ n: z.number().int() });
