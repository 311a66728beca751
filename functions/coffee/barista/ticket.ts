import * as z from 'zod';
import type { NewEvent } from '../../toolkit/outbox';

export const BREW_STARTED = 'coffee.brew.started';
export const BREW_FINISHED = 'coffee.brew.finished';

/** `coffee.brew.started` v1 data. */
export const BrewStartedSchema = z.object({ orderId: z.string(), startedAt: z.iso.datetime() });
/** `coffee.brew.finished` v1 data. */
export const BrewFinishedSchema = z.object({ orderId: z.string(), startedAt: z.iso.datetime(), finishedAt: z.iso.datetime() });
export type BrewStarted = z.infer<typeof BrewStartedSchema>;
export type BrewFinished = z.infer<typeof BrewFinishedSchema>;

/** What the barista knows of an order, from the orders service's events (its work queue). */
export interface QueuedOrder {
  readonly summary?: string;
  readonly placedAt?: string;
  readonly cancelledAt?: string;
  /** Whether the customer's name can be called out: never the name itself. */
  readonly customer?: 'known' | 'erased' | 'none';
}

/** The barista's own aggregate: one ticket per order it works on. */
export interface Ticket {
  readonly status: 'brewing' | 'finished';
  readonly startedAt: string;
  readonly finishedAt?: string;
}

export type Rejection = { readonly kind: 'rejected'; readonly status: 404 | 409; readonly error: string; readonly message: string };
export type TicketDecision = { readonly kind: 'decided'; readonly state: Ticket; readonly events: NewEvent[] } | Rejection;

const rejected = (status: 404 | 409, error: string, message: string): Rejection => ({ kind: 'rejected', status, error, message });

/**
 * Decides `StartBrew`. Pure. The barista can only start an order it has been told about and that
 * was not cancelled; the handler guards the commit on the queue item, so a cancellation arriving
 * meanwhile makes the start fail rather than both succeed.
 */
export function startBrew(orderId: string, queued: QueuedOrder | undefined, ticket: Ticket | undefined, now: Date): TicketDecision {
  if (!queued?.placedAt) return rejected(404, 'OrderNotQueued', `order ${orderId} is not in the barista's queue (yet)`);
  if (queued.cancelledAt) return rejected(409, 'OrderCancelled', `order ${orderId} was cancelled; do not brew it`);
  if (ticket) return rejected(409, 'AlreadyStarted', `order ${orderId} was already started at ${ticket.startedAt}`);
  const startedAt = now.toISOString();
  return { kind: 'decided', state: { status: 'brewing', startedAt }, events: [{ type: BREW_STARTED, data: { orderId, startedAt } satisfies BrewStarted }] };
}

/** Decides `FinishBrew`. Pure. A drink whose order was cancelled meanwhile is discarded, not finished. */
export function finishBrew(orderId: string, queued: QueuedOrder | undefined, ticket: Ticket | undefined, now: Date): TicketDecision {
  if (!ticket) return rejected(404, 'NotStarted', `order ${orderId} has not been started`);
  if (ticket.status === 'finished') return rejected(409, 'AlreadyFinished', `order ${orderId} was already finished at ${ticket.finishedAt}`);
  if (queued?.cancelledAt) return rejected(409, 'OrderCancelled', `order ${orderId} was cancelled while brewing; discard the drink`);
  const finishedAt = now.toISOString();
  return {
    kind: 'decided',
    state: { ...ticket, status: 'finished', finishedAt },
    events: [{ type: BREW_FINISHED, data: { orderId, startedAt: ticket.startedAt, finishedAt } satisfies BrewFinished }],
  };
}

export const queueKey = (orderId: string) => ({ pk: `QUEUE#${orderId}`, sk: 'STATE' });
export const ticketKey = (orderId: string) => ({ pk: `TICKET#${orderId}`, sk: 'STATE' });
