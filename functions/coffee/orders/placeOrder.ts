import * as z from 'zod';
import type { NewEvent } from '../../toolkit/outbox';
import { ClientId } from '../../toolkit/http/clientId';
import { HumanText } from '../../toolkit/http/humanText';
import { personal } from '../../toolkit/privacy/personal';

export const MENU = {
  espresso: 250,
  americano: 300,
  latte: 380,
  cappuccino: 370,
  'flat-white': 390,
  mocha: 420,
} as const;
export const SIZES = { small: 0.8, medium: 1, large: 1.25 } as const;

export const OrderLineSchema = z.object({
  product: z.enum(Object.keys(MENU) as [keyof typeof MENU, ...Array<keyof typeof MENU>]),
  size: z.enum(['small', 'medium', 'large']).default('medium'),
  quantity: z.number().int().min(1).max(10).default(1),
}).strict();

/** An order's id, chosen by the client (so a retried request is recognised): part of the order's keys. */
export const OrderIdSchema = ClientId;

/** A customer's id: the subject their personal data is sealed for (a key of the key table). */
const CustomerId = ClientId;

/** Who ordered, as the command gives it (plaintext, validated). */
export const CustomerInputSchema = z.object({ customerId: CustomerId, name: HumanText(100), email: z.email().optional() }).strict();

/** Who ordered, as stored and published: the name and email are personal data, sealed for the customer. */
export const CustomerSchema = z.object({ customerId: CustomerId, name: personal(z.string()), email: personal(z.email()).optional() });
export type Customer = z.infer<typeof CustomerSchema>;

/** The `PlaceOrder` command. A walk-in order has no customer. */
export const PlaceOrderSchema = z
  .object({
    orderId: OrderIdSchema,
    lines: z.array(OrderLineSchema).min(1, 'an order needs at least one line').max(20),
    customer: CustomerInputSchema.optional(),
  })
  .strict();
export type PlaceOrder = z.infer<typeof PlaceOrderSchema>;

export const ORDER_PLACED = 'coffee.order.placed';

/** `coffee.order.placed` v1 data. */
export const OrderPlacedSchema = z.object({
  orderId: z.string(),
  lines: z.array(z.object({ product: z.string(), size: z.string(), quantity: z.number().int(), priceCents: z.number().int() })),
  totalCents: z.number().int(),
  placedAt: z.iso.datetime(),
  customer: CustomerSchema.optional(),
});
export type OrderPlaced = z.infer<typeof OrderPlacedSchema>;

export interface OrderState {
  readonly status: 'placed' | 'cancelled';
  readonly cancelledAt?: string;
  readonly lines: OrderPlaced['lines'];
  readonly totalCents: number;
  readonly placedAt: string;
  readonly customer?: Customer;
  /**
   * The `sub` of the signed-in customer who placed it: only they may cancel it or retry placing it.
   * Kept in the order's state only, never in an event (a user pool's `sub` is an opaque id, but it is
   * an id of a person: nothing downstream needs it).
   */
  readonly placedBy?: string;
}

/** Whether `sub` placed the order (an order stored without a `placedBy` was placed by nobody who can prove it). */
export const placedBy = (state: Pick<OrderState, 'placedBy'>, sub: string): boolean => state.placedBy !== undefined && sub !== '' && state.placedBy === sub;

/**
 * Decides `PlaceOrder` for an order that does not exist yet. Pure: time arrives as `now`, and the
 * customer arrives already sealed (`customer`), so neither state nor event ever holds their plaintext.
 */
export function placeOrder(command: PlaceOrder, now: Date, customer?: Customer): { state: OrderState; events: NewEvent<OrderPlaced>[] } {
  const lines = command.lines.map((line) => ({
    product: line.product,
    size: line.size,
    quantity: line.quantity,
    priceCents: Math.round(MENU[line.product] * SIZES[line.size]) * line.quantity,
  }));
  const totalCents = lines.reduce((sum, line) => sum + line.priceCents, 0);
  const placedAt = now.toISOString();
  const who = customer === undefined ? {} : { customer };
  return {
    state: { status: 'placed', lines, totalCents, placedAt, ...who },
    events: [{ type: ORDER_PLACED, data: { orderId: command.orderId, lines, totalCents, placedAt, ...who }, ...(customer ? { dataSubject: customer.customerId } : {}) }],
  };
}

/** The answer to a `PlaceOrder` whose order id is taken. */
export type RepeatedPlaceOrder =
  | { readonly kind: 'retry'; readonly totalCents: number }
  | { readonly kind: 'rejected'; readonly error: 'OrderIdReused'; readonly message: string };

/**
 * Decides a `PlaceOrder` for an order id that is taken. Pure. The client's retry (the same request
 * again, e.g. after a lost answer) is answered as the first time; another request under the same id
 * is refused. The same request means the same lines (product, size and quantity, defaults applied,
 * in order) for the same customer: the same id, name and email. The name and email are personal
 * data, sealed in the stored order: the caller opens them (`stored`), in memory only — no digest of
 * them is kept anywhere. An erased customer's opened values are `null`: they cannot be compared and
 * are not (the rest still is). The price is the one the order was placed at, whatever the menu says now.
 */
export function placeOrderAgain(command: PlaceOrder, existing: OrderState, stored: Customer | undefined): RepeatedPlaceOrder {
  const sameLines =
    command.lines.length === existing.lines.length &&
    command.lines.every((line, i) => line.product === existing.lines[i]!.product && line.size === existing.lines[i]!.size && line.quantity === existing.lines[i]!.quantity);
  const samePersonal = (asked: string | undefined, kept: string | null | undefined) => kept === null || asked === kept;
  const sameCustomer =
    command.customer === undefined || stored === undefined
      ? command.customer === undefined && stored === undefined
      : command.customer.customerId === stored.customerId && samePersonal(command.customer.name, stored.name) && samePersonal(command.customer.email, stored.email);
  if (sameLines && sameCustomer) return { kind: 'retry', totalCents: existing.totalCents };
  return { kind: 'rejected', error: 'OrderIdReused', message: `order id ${command.orderId} was already used for another request (other lines or another customer); a new order needs a new id` };
}

export const orderKey = (orderId: string) => ({ pk: `ORDER#${orderId}`, sk: 'STATE' });

/** A short human summary of an order's lines, e.g. "2× large latte, espresso". */
export const summarize = (lines: readonly { product: string; size: string; quantity: number }[]): string =>
  lines.map((line) => `${line.quantity > 1 ? `${line.quantity}× ` : ''}${line.size === 'medium' ? '' : `${line.size} `}${line.product}`).join(', ');
