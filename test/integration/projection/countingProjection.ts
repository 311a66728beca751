/**
 * Test projection: per key, how many events it applied and in which order (`source:sequence`); the
 * summary keeps the total over all keys. Double counting or a skipped event shows in both.
 */
import { defineProjection } from '../../../functions/toolkit/projection';
import { COUNTER_INCREMENTED, COUNTER_NOTED, CounterDataSchema } from './counterEvents';

export interface CountingState {
  readonly count: number;
  readonly applied: readonly string[];
}

export const handler = defineProjection({
  events: { [COUNTER_INCREMENTED]: CounterDataSchema, [COUNTER_NOTED]: CounterDataSchema },
  initial: (): CountingState => ({ count: 0, applied: [] }),
  apply: (state, event) => ({
    state: { count: state.count + 1, applied: [...state.applied, `${event.source}:${event.sequence}`] },
    summary: { total: 1 },
  }),
});
