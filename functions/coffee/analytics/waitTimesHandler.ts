import { defineProjection } from '../../toolkit/projection';
import { applyWaitTime, WAIT_TIME_EVENTS, type OrderWait, type WaitTimeEvent } from './waitTimes';

/**
 * Wait-time analytics, the late-comer: deployed after orders existed, it is filled by `replay` from
 * the orders and counter logs and then follows live events; its totals count every order once.
 */
export const handler = defineProjection({
  events: WAIT_TIME_EVENTS,
  initial: (): OrderWait => ({}),
  apply: (order, event) => applyWaitTime(order, event as WaitTimeEvent),
});
