import * as z from 'zod';

/**
 * Cancel and start are decided by two services (orders, barista) and must never both win. Each commit
 * checks the OTHER service's own item in the same DynamoDB transaction (a condition check: read
 * access only), and DynamoDB's serializable transactions make exactly one of them commit: a cancel
 * only while the barista has no ticket, a start only while the order is not cancelled. The services
 * still learn of each other through events; this closes the window while those are on their way.
 */
export const ARBITER_ENV = {
  /** The orders service's table: the barista's start checks the order is not cancelled. */
  ordersTableName: 'COFFEE_ORDERS_TABLE_NAME',
  /** The barista's table: the orders service's cancel checks no ticket was started. */
  baristaTableName: 'COFFEE_BARISTA_TABLE_NAME',
} as const;

export const OrdersArbiterConfigSchema = z.object({ [ARBITER_ENV.baristaTableName]: z.string().min(1) });
export const BaristaArbiterConfigSchema = z.object({ [ARBITER_ENV.ordersTableName]: z.string().min(1) });
