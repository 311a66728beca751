import * as z from 'zod';
import type { NewEvent } from '../../toolkit/outbox';
import { ClientId } from '../../toolkit/http/clientId';
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
export const CustomerInputSchema = z.object({ customerId: CustomerId, name: z.string().trim().min(1).max(100), email: z.email().optional() }).strict();

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
}

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

export const orderKey = (orderId: string) => ({ pk: `ORDER#${orderId}`, sk: 'STATE' });

/** A short human summary of an order's lines, e.g. "2× large latte, espresso". */
export const summarize = (lines: readonly { product: string; size: string; quantity: number }[]): string =>
  lines.map((line) => `${line.quantity > 1 ? `${line.quantity}× ` : ''}${line.size === 'medium' ? '' : `${line.size} `}${line.product}`).join(', ');
