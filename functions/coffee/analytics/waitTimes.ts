import { ORDER_CANCELLED, OrderCancelledSchema } from '../orders/cancelOrder';
import { ORDER_PLACED, OrderPlacedSchema } from '../orders/placeOrder';
import { ORDER_SERVED, OrderServedSchema } from '../counter/pickup';
import type * as z from 'zod';

/** The late-comer's events: it was deployed after orders existed, and rebuilds from the logs. */
export const WAIT_TIME_EVENTS = { [ORDER_PLACED]: OrderPlacedSchema, [ORDER_CANCELLED]: OrderCancelledSchema, [ORDER_SERVED]: OrderServedSchema } as const;

export type WaitTimeEvent = {
  [T in keyof typeof WAIT_TIME_EVENTS]: { readonly type: T; readonly data: z.infer<(typeof WAIT_TIME_EVENTS)[T]> };
}[keyof typeof WAIT_TIME_EVENTS];

/** Per order: when it was placed and served, and whether it has been counted in the totals. */
export interface OrderWait {
  readonly placedAt?: string;
  readonly servedAt?: string;
  readonly cancelled?: boolean;
  readonly waitMs?: number;
}

/** Totals kept in the projection's summary item: served orders, their summed wait, cancellations. */
export interface WaitTotals {
  readonly served: number;
  readonly totalWaitMs: number;
  readonly cancelled: number;
}

/**
 * Applies one event. Pure and commutative: an order is counted once, when both its placement and its
 * service are known, whichever arrives first; the summary deltas are committed with the row.
 */
export function applyWaitTime(order: OrderWait, event: WaitTimeEvent): { state: OrderWait; summary?: Partial<WaitTotals> } {
  switch (event.type) {
    case ORDER_CANCELLED:
      return order.cancelled ? { state: order } : { state: { ...order, cancelled: true }, summary: { cancelled: 1 } };
    case ORDER_PLACED:
      return counted({ ...order, placedAt: order.placedAt ?? event.data.placedAt });
    case ORDER_SERVED:
      return counted({ ...order, servedAt: order.servedAt ?? event.data.servedAt });
  }
}

function counted(order: OrderWait): { state: OrderWait; summary?: Partial<WaitTotals> } {
  if (order.waitMs !== undefined || !order.placedAt || !order.servedAt) return { state: order };
  const waitMs = Date.parse(order.servedAt) - Date.parse(order.placedAt);
  return { state: { ...order, waitMs }, summary: { served: 1, totalWaitMs: waitMs } };
}

/** The average wait of served orders, in seconds (undefined before the first). */
export const averageWaitSeconds = (totals: WaitTotals): number | undefined => (totals.served === 0 ? undefined : totals.totalWaitMs / totals.served / 1000);
