import type { PlaceOrder } from '../../functions/coffee/orders/placeOrder';
import type { ApiAnswer, CoffeeClient } from './coffeeClient';

const PRODUCTS = ['latte', 'espresso', 'cappuccino', 'flat-white', 'mocha', 'americano'] as const;
const SIZES = ['small', 'medium', 'large'] as const;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface FloorEvent {
  readonly orderId: string;
  readonly what: 'placed' | 'cancelled' | 'cancel refused' | 'brewing' | 'ready' | 'served' | 'discarded' | 'rejected';
  readonly detail?: string;
}

/** How an order's customer and the staff behave in the simulation. */
export interface OrderPlan {
  readonly orderId: string;
  readonly command: PlaceOrder;
  /** The customer cancels this long after placing (ms), or never. */
  readonly cancelAfterMs?: number;
  /** The barista forgets it after starting (it stays brewing: the probe will flag it). */
  readonly forgotten?: boolean;
}

/** A plan for order number `n`: a varied drink; every `cancelEvery`-th order is cancelled, early or racing the barista. */
export function planOrder(prefix: string, n: number, options: { cancelEvery?: number; customer?: PlaceOrder['customer'] } = {}): OrderPlan {
  const cancelEvery = options.cancelEvery ?? 5;
  const cancelled = n % cancelEvery === cancelEvery - 1;
  return {
    orderId: `${prefix}-${String(n).padStart(3, '0')}`,
    command: {
      orderId: `${prefix}-${String(n).padStart(3, '0')}`,
      lines: [{ product: PRODUCTS[n % PRODUCTS.length]!, size: SIZES[(n * 7) % SIZES.length]!, quantity: 1 + (n % 3 === 0 ? 1 : 0) }],
      ...(options.customer ? { customer: options.customer } : {}),
    },
    ...(cancelled ? { cancelAfterMs: n % 2 === 0 ? 200 : 1_400 } : {}),
  };
}

/** Repeats a staff action while the service has not heard of the order yet, as staff at a tablet would. */
async function patiently(action: () => Promise<ApiAnswer>, deadlineMs = 30_000): Promise<ApiAnswer> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const answer = await action();
    const notYet = answer.status === 404 || answer.body.error === 'NotReady';
    if (!notYet || Date.now() > deadline) return answer;
    await sleep(250);
  }
}

/**
 * One order's life on the shop floor: the customer orders (and maybe cancels); the barista starts
 * it after a moment, brews for a while and finishes; the counter hands it over. Every step goes
 * through the HTTP API; a refused step (a cancelled drink) is reported, not hidden.
 */
export async function runOrder(shop: CoffeeClient, plan: OrderPlan, report: (event: FloorEvent) => void, timing = { queueMs: 1_200, brewMs: 1_800, handOverMs: 800 }): Promise<FloorEvent['what']> {
  const placed = await shop.placeOrder(plan.command);
  if (placed.status !== 201) {
    report({ orderId: plan.orderId, what: 'rejected', detail: `${placed.status} ${placed.body.error}: ${placed.body.message}` });
    return 'rejected';
  }
  report({ orderId: plan.orderId, what: 'placed', detail: plan.command.lines.map((l) => `${l.quantity > 1 ? `${l.quantity}× ` : ''}${l.size} ${l.product}`).join(', ') });

  const cancelling =
    plan.cancelAfterMs === undefined
      ? Promise.resolve(undefined)
      : sleep(plan.cancelAfterMs).then(async () => {
          const answer = await shop.cancel(plan.orderId);
          report({ orderId: plan.orderId, what: answer.status === 200 ? 'cancelled' : 'cancel refused', ...(answer.status === 200 ? {} : { detail: answer.body.message }) });
          return answer.status === 200;
        });

  await sleep(timing.queueMs);
  const started = await patiently(() => shop.startBrew(plan.orderId));
  const cancelled = await cancelling;
  if (started.status !== 200) {
    report({ orderId: plan.orderId, what: 'discarded', detail: `barista: ${started.body.message}` });
    return cancelled ? 'cancelled' : 'discarded';
  }
  report({ orderId: plan.orderId, what: 'brewing' });
  if (plan.forgotten) return 'brewing';
  await sleep(timing.brewMs);
  const finished = await patiently(() => shop.finishBrew(plan.orderId));
  if (finished.status !== 200) {
    report({ orderId: plan.orderId, what: 'discarded', detail: `barista: ${finished.body.message}` });
    return cancelled ? 'cancelled' : 'discarded';
  }
  report({ orderId: plan.orderId, what: 'ready' });
  await sleep(timing.handOverMs);
  const served = await patiently(() => shop.serve(plan.orderId));
  if (served.status !== 200) {
    report({ orderId: plan.orderId, what: 'discarded', detail: `counter: ${served.body.message}` });
    return cancelled ? 'cancelled' : 'discarded';
  }
  report({ orderId: plan.orderId, what: 'served' });
  return 'served';
}
