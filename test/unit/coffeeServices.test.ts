import { describe, expect, it } from 'vitest';
import { applyWaitTime, averageWaitSeconds, type OrderWait, type WaitTimeEvent } from '../../functions/coffee/analytics/waitTimes';
import { BREW_FINISHED, BREW_STARTED, finishBrew, startBrew, type QueuedOrder, type Ticket } from '../../functions/coffee/barista/ticket';
import { applyToBoard, emptyBoardRow, type BoardEvent, type BoardState } from '../../functions/coffee/board/board';
import { ORDER_SERVED, serveOrder } from '../../functions/coffee/counter/pickup';
import { cancelOrder, ORDER_CANCELLED } from '../../functions/coffee/orders/cancelOrder';
import { ORDER_PLACED, placeOrder, PlaceOrderSchema, summarize, type OrderState } from '../../functions/coffee/orders/placeOrder';
import { ORDER_OVERDUE } from '../../functions/coffee/probe/probe';

const T0 = new Date('2026-11-23T08:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const placed = (): OrderState => placeOrder(PlaceOrderSchema.parse({ orderId: 'o-1', lines: [{ product: 'latte', quantity: 2, size: 'large' }] }), T0).state;

describe('orders: cancelOrder', () => {
  it('given a placed order, when it is cancelled, then it is cancelled with coffee.order.cancelled', () => {
    const decision = cancelOrder('o-1', placed(), at(30));
    expect(decision).toMatchObject({ kind: 'cancelled', state: { status: 'cancelled', cancelledAt: at(30).toISOString() } });
    expect(decision.kind === 'cancelled' && decision.events).toEqual([{ type: ORDER_CANCELLED, data: { orderId: 'o-1', cancelledAt: at(30).toISOString() } }]);
  });
  it('given no such order, when it is cancelled, then it is rejected as not found', () => {
    expect(cancelOrder('o-9', undefined, at(1))).toMatchObject({ kind: 'rejected', error: 'OrderNotFound', message: 'there is no order o-9' });
  });
  it('given a cancelled order, when it is cancelled again, then it is rejected, saying so', () => {
    const cancelled = cancelOrder('o-1', placed(), at(30));
    if (cancelled.kind !== 'cancelled') throw new Error('expected a cancellation');
    expect(cancelOrder('o-1', cancelled.state, at(40))).toMatchObject({ kind: 'rejected', error: 'OrderNotCancellable', message: 'order o-1 is already cancelled' });
  });
});

describe('barista: startBrew and finishBrew', () => {
  const queued: QueuedOrder = { placedAt: T0.toISOString(), summary: '2× large latte', customer: 'none' };
  it('given a queued order, when the barista starts it, then coffee.brew.started', () => {
    const decision = startBrew('o-1', queued, undefined, at(60));
    expect(decision).toMatchObject({ kind: 'decided', state: { status: 'brewing', startedAt: at(60).toISOString() }, events: [{ type: BREW_STARTED, data: { orderId: 'o-1' } }] });
  });
  it('given an order the barista has not heard of, when started, then 404 OrderNotQueued', () => {
    expect(startBrew('o-1', undefined, undefined, at(1))).toMatchObject({ kind: 'rejected', status: 404, error: 'OrderNotQueued' });
  });
  it('given a cancelled order, when started, then 409 OrderCancelled', () => {
    expect(startBrew('o-1', { ...queued, cancelledAt: at(5).toISOString() }, undefined, at(6))).toMatchObject({ kind: 'rejected', status: 409, error: 'OrderCancelled' });
  });
  it('given a started order, when started again, then 409 AlreadyStarted', () => {
    const ticket: Ticket = { status: 'brewing', startedAt: at(60).toISOString() };
    expect(startBrew('o-1', queued, ticket, at(61))).toMatchObject({ kind: 'rejected', status: 409, error: 'AlreadyStarted' });
  });
  it('given a brewing ticket, when finished, then coffee.brew.finished with both times', () => {
    const ticket: Ticket = { status: 'brewing', startedAt: at(60).toISOString() };
    const decision = finishBrew('o-1', queued, ticket, at(150));
    expect(decision).toMatchObject({ kind: 'decided', state: { status: 'finished', finishedAt: at(150).toISOString() } });
    expect(decision.kind === 'decided' && decision.events).toEqual([{ type: BREW_FINISHED, data: { orderId: 'o-1', startedAt: at(60).toISOString(), finishedAt: at(150).toISOString() } }]);
  });
  it('given an order cancelled while brewing, when finished, then the drink is discarded (409 OrderCancelled)', () => {
    const ticket: Ticket = { status: 'brewing', startedAt: at(60).toISOString() };
    expect(finishBrew('o-1', { ...queued, cancelledAt: at(70).toISOString() }, ticket, at(90))).toMatchObject({ kind: 'rejected', status: 409, error: 'OrderCancelled', message: expect.stringMatching(/discard/) });
  });
  it('given no ticket or a finished one, when finished, then 404 NotStarted / 409 AlreadyFinished', () => {
    expect(finishBrew('o-1', queued, undefined, at(1))).toMatchObject({ status: 404, error: 'NotStarted' });
    expect(finishBrew('o-1', queued, { status: 'finished', startedAt: at(1).toISOString(), finishedAt: at(2).toISOString() }, at(3))).toMatchObject({ status: 409, error: 'AlreadyFinished' });
  });
});

describe('counter: serveOrder', () => {
  it('given a ready drink, when served, then coffee.order.served', () => {
    expect(serveOrder('o-1', { readyAt: at(150).toISOString() }, undefined, at(170))).toMatchObject({ kind: 'decided', events: [{ type: ORDER_SERVED, data: { orderId: 'o-1', servedAt: at(170).toISOString() } }] });
  });
  it('given a drink not ready, a cancelled order, or one already served, then 409 with the reason', () => {
    expect(serveOrder('o-1', undefined, undefined, at(1))).toMatchObject({ status: 409, error: 'NotReady' });
    expect(serveOrder('o-1', { readyAt: at(1).toISOString(), cancelledAt: at(2).toISOString() }, undefined, at(3))).toMatchObject({ status: 409, error: 'OrderCancelled' });
    expect(serveOrder('o-1', { readyAt: at(1).toISOString() }, { servedAt: at(2).toISOString() }, at(3))).toMatchObject({ status: 409, error: 'AlreadyServed' });
  });
});

const event = <E extends BoardEvent>(e: Omit<E, 'sequence'> & { sequence?: number }): BoardEvent => ({ sequence: 1, ...e }) as BoardEvent;
const lifecycle: BoardEvent[] = [
  event({ type: ORDER_PLACED, source: 'coffee.orders', data: { orderId: 'o-1', lines: [{ product: 'latte', size: 'large', quantity: 2, priceCents: 950 }], totalCents: 950, placedAt: T0.toISOString() } }),
  event({ type: BREW_STARTED, source: 'coffee.barista', data: { orderId: 'o-1', startedAt: at(60).toISOString() } }),
  event({ type: BREW_FINISHED, source: 'coffee.barista', sequence: 2, data: { orderId: 'o-1', startedAt: at(60).toISOString(), finishedAt: at(150).toISOString() } }),
  event({ type: ORDER_SERVED, source: 'coffee.counter', data: { orderId: 'o-1', servedAt: at(170).toISOString() } }),
];
const fold = (events: readonly BoardEvent[]): BoardState => events.reduce(applyToBoard, emptyBoardRow('o-1'));

describe('order board: applyToBoard', () => {
  it('given an order placed, brewed and served, then the row moves queued → brewing → ready → served with each time', () => {
    const statuses = lifecycle.map((_, i) => fold(lifecycle.slice(0, i + 1)).status);
    expect(statuses).toEqual(['queued', 'brewing', 'ready', 'served']);
    expect(fold(lifecycle)).toMatchObject({ summary: '2× large latte', totalCents: 950, placedAt: T0.toISOString(), brewingAt: at(60).toISOString(), readyAt: at(150).toISOString(), servedAt: at(170).toISOString(), overdue: false });
  });
  it('given the services’ events in any order and some twice, then the row is the same', () => {
    const reordered = [lifecycle[3]!, lifecycle[1]!, lifecycle[3]!, lifecycle[0]!, lifecycle[2]!, lifecycle[0]!];
    const { lastEvent: _a, ...expected } = fold(lifecycle);
    const { lastEvent: _b, ...actual } = fold(reordered);
    expect(actual).toEqual(expected);
  });
  it('given a cancellation, then the order is cancelled whatever else arrives (a brew already started is discarded)', () => {
    const cancelled = event({ type: ORDER_CANCELLED, source: 'coffee.orders', sequence: 2, data: { orderId: 'o-1', cancelledAt: at(61).toISOString() } });
    expect(fold([lifecycle[0]!, lifecycle[1]!, cancelled]).status).toBe('cancelled');
    expect(fold([cancelled, lifecycle[0]!, lifecycle[1]!]).status).toBe('cancelled');
  });
  it('given coffee.order.overdue, then the row is flagged and keeps its stage', () => {
    const overdue = event({ type: ORDER_OVERDUE, source: 'coffee.probe', data: { orderId: 'o-1', stage: 'brewing', placedAt: T0.toISOString(), overdueAt: at(301).toISOString(), waitingSeconds: 301, thresholdSeconds: 300 } });
    expect(fold([lifecycle[0]!, lifecycle[1]!, overdue])).toMatchObject({ status: 'brewing', overdue: true, lastEvent: { type: ORDER_OVERDUE, source: 'coffee.probe', sequence: 1 } });
  });
});

describe('wait-time analytics: applyWaitTime', () => {
  const placedEvent: WaitTimeEvent = { type: ORDER_PLACED, data: { orderId: 'o-1', lines: [], totalCents: 0, placedAt: T0.toISOString() } };
  const servedEvent: WaitTimeEvent = { type: ORDER_SERVED, data: { orderId: 'o-1', servedAt: at(170).toISOString() } };
  const run = (events: WaitTimeEvent[]) =>
    events.reduce<{ state: OrderWait; totals: Record<string, number> }>(
      (acc, e) => {
        const { state, summary } = applyWaitTime(acc.state, e);
        for (const [k, v] of Object.entries(summary ?? {})) acc.totals[k] = (acc.totals[k] ?? 0) + v;
        return { state, totals: acc.totals };
      },
      { state: {}, totals: {} },
    );
  it('counts a served order once, when both placement and service are known, in either order', () => {
    expect(run([placedEvent, servedEvent]).totals).toEqual({ served: 1, totalWaitMs: 170_000 });
    expect(run([servedEvent, placedEvent, servedEvent, placedEvent]).totals).toEqual({ served: 1, totalWaitMs: 170_000 });
    expect(averageWaitSeconds({ served: 2, totalWaitMs: 300_000, cancelled: 0 })).toBe(150);
  });
  it('counts a cancellation once', () => {
    const cancelled: WaitTimeEvent = { type: ORDER_CANCELLED, data: { orderId: 'o-1', cancelledAt: at(5).toISOString() } };
    expect(run([placedEvent, cancelled, cancelled]).totals).toEqual({ cancelled: 1 });
  });
});

describe('summarize', () => {
  it('names quantity and size only when they say something', () => {
    expect(summarize([{ product: 'latte', size: 'large', quantity: 2 }, { product: 'espresso', size: 'medium', quantity: 1 }])).toBe('2× large latte, espresso');
  });
});
