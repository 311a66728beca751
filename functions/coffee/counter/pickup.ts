import * as z from 'zod';
import type { NewEvent } from '../../toolkit/outbox';
import type { Rejection } from '../barista/ticket';

export const ORDER_SERVED = 'coffee.order.served';

/** `coffee.order.served` v1 data. */
export const OrderServedSchema = z.object({ orderId: z.string(), servedAt: z.iso.datetime() });
export type OrderServed = z.infer<typeof OrderServedSchema>;

/** What the counter knows of an order, from the barista's and the orders service's events. */
export interface Pickup {
  readonly readyAt?: string;
  readonly cancelledAt?: string;
}

/** The counter's own aggregate: the hand-over. */
export interface Service {
  readonly servedAt: string;
}

export type ServeDecision = { readonly kind: 'decided'; readonly state: Service; readonly events: NewEvent<OrderServed>[] } | Rejection;

/**
 * Decides `ServeOrder`. Pure. Only a finished drink of an order that was not cancelled is handed
 * over, once; the handler guards the commit on the pickup item so a late cancellation is not missed.
 */
export function serveOrder(orderId: string, pickup: Pickup | undefined, served: Service | undefined, now: Date): ServeDecision {
  if (served) return { kind: 'rejected', status: 409, error: 'AlreadyServed', message: `order ${orderId} was already served at ${served.servedAt}` };
  if (pickup?.cancelledAt) return { kind: 'rejected', status: 409, error: 'OrderCancelled', message: `order ${orderId} was cancelled; do not hand it over` };
  if (!pickup?.readyAt) return { kind: 'rejected', status: 409, error: 'NotReady', message: `order ${orderId} is not ready at the counter` };
  const servedAt = now.toISOString();
  return { kind: 'decided', state: { servedAt }, events: [{ type: ORDER_SERVED, data: { orderId, servedAt } }] };
}

export const pickupKey = (orderId: string) => ({ pk: `PICKUP#${orderId}`, sk: 'STATE' });
export const servedKey = (orderId: string) => ({ pk: `SERVED#${orderId}`, sk: 'STATE' });
