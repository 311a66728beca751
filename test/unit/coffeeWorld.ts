// Test-only: one coffee order across the three services, with their real deciders and the guards
// their HTTP handlers commit with, and the events between them delivered by hand (in any order the
// test chooses, duplicated or held back). Each service decides on its own table only; a decision made
// on a read is committed only if the item's version and the handler's guards still hold at commit (a
// cancel and a start also check the other service's item: the arbiter, arbiterConfig.ts).
import { BREW_FINISHED, BREW_STARTED, finishBrew, startBrew, type QueuedOrder, type Ticket } from '../../functions/coffee/barista/ticket';
import { ORDER_SERVED, serveOrder, type Pickup, type Service } from '../../functions/coffee/counter/pickup';
import { cancelOrder, ORDER_CANCELLED } from '../../functions/coffee/orders/cancelOrder';
import { ORDER_PLACED, placeOrder, PlaceOrderSchema, summarize, type OrderState } from '../../functions/coffee/orders/placeOrder';
import type { NewEvent } from '../../functions/toolkit/outbox';

export type Action = 'place' | 'cancel' | 'start' | 'finish' | 'serve';
export type Consumer = 'orders' | 'barista' | 'counter';
type Versioned<S> = { readonly state: S; readonly version: number };

/** An event on its way to one consumer. The barista's queue is FIFO per order: `sequence` orders it. */
export interface Delivery {
  readonly to: Consumer;
  readonly type: string;
  readonly data: Record<string, string>;
  readonly sequence: number;
}

/** Who hears of which event (the stacks' subscriptions). */
const SUBSCRIBERS: Readonly<Record<string, readonly Consumer[]>> = {
  [ORDER_PLACED]: ['barista'],
  [ORDER_CANCELLED]: ['barista', 'counter'],
  [BREW_STARTED]: ['orders'],
  [BREW_FINISHED]: ['counter'],
  [ORDER_SERVED]: [],
};

/** A decision made on a read, with what its commit requires (the handler's version condition and guards). */
interface Planned {
  readonly action: Action;
  readonly commit?: () => boolean;
  readonly events: readonly NewEvent[];
  readonly apply?: () => void;
  readonly rejected?: string;
}

export class CoffeeWorld {
  private clock = Date.parse('2026-11-23T08:00:00.000Z');
  private sequence = 0;
  // orders service
  order: Versioned<OrderState> | undefined;
  brewing = false;
  // barista
  queue: QueuedOrder | undefined;
  ticket: Versioned<Ticket> | undefined;
  // counter
  pickup: Pickup | undefined;
  served: Versioned<Service> | undefined;
  readonly pending: Delivery[] = [];
  /** What happened, for a failing property's report. */
  readonly trace: string[] = [];

  constructor(readonly orderId = 'o-1') {}

  private now(): Date {
    this.clock += 1_000;
    return new Date(this.clock);
  }

  /** Decides `action` on what its service reads now; the commit happens later (`commit`). */
  plan(action: Action): Planned {
    const id = this.orderId;
    const now = this.now();
    switch (action) {
      case 'place': {
        const { state, events } = placeOrder(PlaceOrderSchema.parse({ orderId: id, lines: [{ product: 'latte' }] }), now);
        return { action, events, commit: () => this.order === undefined, apply: () => (this.order = { state, version: 1 }) };
      }
      case 'cancel': {
        const read = this.order;
        const decision = cancelOrder(id, read?.state, now);
        if (decision.kind === 'rejected') return { action, events: [], rejected: decision.error };
        // ordersApiHandler: version = read, no brew start recorded (brewingKey attribute_not_exists), and
        // no ticket in the barista's table (the arbiter: checked in the same transaction)
        return { action, events: decision.events, commit: () => this.order?.version === read!.version && !this.brewing && this.ticket === undefined, apply: () => (this.order = { state: decision.state, version: read!.version + 1 }) };
      }
      case 'start':
      case 'finish': {
        const [queued, read] = [this.queue, this.ticket];
        const decision = (action === 'start' ? startBrew : finishBrew)(id, queued, read?.state, now);
        if (decision.kind === 'rejected') return { action, events: [], rejected: decision.error };
        // baristaApiHandler: ticket version = read, queue item exists without cancelledAt (notCancelled);
        // a start also checks the order in the orders service's table is not cancelled (the arbiter)
        const arbiter = () => action !== 'start' || (this.order !== undefined && this.order.state.status !== 'cancelled');
        return {
          action,
          events: decision.events,
          commit: () => (this.ticket?.version ?? 0) === (read?.version ?? 0) && this.queue !== undefined && this.queue.cancelledAt === undefined && arbiter(),
          apply: () => (this.ticket = { state: decision.state, version: (read?.version ?? 0) + 1 }),
        };
      }
      case 'serve': {
        const [pickup, read] = [this.pickup, this.served];
        const decision = serveOrder(id, pickup, read?.state, now);
        if (decision.kind === 'rejected') return { action, events: [], rejected: decision.error };
        // counterApiHandler: served version = read, pickup has readyAt and no cancelledAt
        return {
          action,
          events: decision.events,
          commit: () => (this.served?.version ?? 0) === (read?.version ?? 0) && this.pickup?.readyAt !== undefined && this.pickup.cancelledAt === undefined,
          apply: () => (this.served = { state: decision.state, version: (read?.version ?? 0) + 1 }),
        };
      }
    }
  }

  /** Commits a planned decision: its events go out only if it commits. True when it committed. */
  commit(planned: Planned): boolean {
    if (planned.rejected || !planned.commit || !planned.apply) {
      this.trace.push(`${planned.action}: rejected ${planned.rejected ?? ''}`);
      return false;
    }
    if (!planned.commit()) {
      this.trace.push(`${planned.action}: lost at commit (version or guard)`);
      return false;
    }
    planned.apply();
    this.trace.push(`${planned.action}: committed`);
    for (const event of planned.events) {
      for (const to of SUBSCRIBERS[event.type] ?? []) this.pending.push({ to, type: event.type, data: event.data as Record<string, string>, sequence: ++this.sequence });
    }
    return true;
  }

  /** Several staff and customers acting at once: each decides on what it read before any of them committed. */
  concurrently(actions: readonly Action[]): void {
    const planned = actions.map((action) => this.plan(action));
    for (const p of planned) this.commit(p);
  }

  act(action: Action): boolean {
    return this.commit(this.plan(action));
  }

  /** The deliveries that may arrive now: any of them, but the barista's only in their order. */
  deliverable(): Delivery[] {
    const firstToBarista = this.pending.filter((d) => d.to === 'barista').sort((a, b) => a.sequence - b.sequence)[0];
    return this.pending.filter((d) => d.to !== 'barista' || d === firstToBarista);
  }

  /** Delivers one pending event (and keeps a copy to deliver again when `duplicate`). */
  deliver(delivery: Delivery, duplicate = false): void {
    if (!duplicate) this.pending.splice(this.pending.indexOf(delivery), 1);
    this.trace.push(`deliver ${delivery.type} to ${delivery.to}${duplicate ? ' (a duplicate follows)' : ''}`);
    const known = <T extends object>(item: T | undefined, facts: Partial<T>): T => ({ ...facts, ...item }) as T; // rememberFacts: if_not_exists
    switch (`${delivery.to} ${delivery.type}`) {
      case `orders ${BREW_STARTED}`:
        this.brewing = true;
        return;
      case `barista ${ORDER_PLACED}`:
        this.queue = known(this.queue, { summary: summarize([{ product: 'latte', size: 'medium', quantity: 1 }]), placedAt: delivery.data.placedAt!, customer: 'none' });
        return;
      case `barista ${ORDER_CANCELLED}`:
        this.queue = known(this.queue, { cancelledAt: delivery.data.cancelledAt! });
        return;
      case `counter ${BREW_FINISHED}`:
        this.pickup = known(this.pickup, { readyAt: delivery.data.finishedAt! });
        return;
      case `counter ${ORDER_CANCELLED}`:
        this.pickup = known(this.pickup, { cancelledAt: delivery.data.cancelledAt! });
        return;
      default:
        throw new Error(`no consumer for ${delivery.type} at ${delivery.to}`);
    }
  }

  /** Delivers everything pending, in the order `picks` chooses (duplicating when a pick is odd). */
  flush(picks: readonly number[] = []): void {
    for (let i = 0; this.pending.length > 0; i++) {
      const options = this.deliverable();
      const pick = picks[i % Math.max(picks.length, 1)] ?? 0;
      this.deliver(options[Math.floor(pick / 2) % options.length]!, pick % 2 === 1 && i < 4 * picks.length);
    }
  }

  /** How the order ended: the orders service's word on cancellation and the counter's on service. */
  get outcome(): { cancelled: boolean; served: boolean } {
    return { cancelled: this.order?.state.status === 'cancelled', served: this.served !== undefined };
  }
}
