import * as z from 'zod';
import type { NewEvent } from '../../toolkit/outbox';
import type { OrderState } from './placeOrder';

export const ORDER_CANCELLED = 'coffee.order.cancelled';

/** `coffee.order.cancelled` v1 data. */
export const OrderCancelledSchema = z.object({ orderId: z.string(), cancelledAt: z.iso.datetime() });
export type OrderCancelled = z.infer<typeof OrderCancelledSchema>;

export type CancelDecision =
  | { readonly kind: 'cancelled'; readonly state: OrderState; readonly events: NewEvent<OrderCancelled>[] }
  | { readonly kind: 'rejected'; readonly error: 'OrderNotFound' | 'OrderNotCancellable'; readonly message: string };

/**
 * Decides `CancelOrder`. Pure. An order can be cancelled while it is placed; whether the barista has
 * started it is not in the order's state — the handler guards the commit with the orders service's
 * record of `coffee.brew.started`, so a cancel racing a brew has exactly one winner.
 */
export function cancelOrder(orderId: string, state: OrderState | undefined, now: Date): CancelDecision {
  if (!state) return { kind: 'rejected', error: 'OrderNotFound', message: `there is no order ${orderId}` };
  if (state.status === 'cancelled') return { kind: 'rejected', error: 'OrderNotCancellable', message: `order ${orderId} is already cancelled` };
  const cancelledAt = now.toISOString();
  return { kind: 'cancelled', state: { ...state, status: 'cancelled', cancelledAt }, events: [{ type: ORDER_CANCELLED, data: { orderId, cancelledAt } }] };
}

/** The orders service's record that the barista started an order (from `coffee.brew.started`). */
export const brewingKey = (orderId: string) => ({ pk: `BREWING#${orderId}`, sk: 'STATE' });
