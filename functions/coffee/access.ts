import type { AccessPolicy } from '../toolkit/http/access';

/** The coffee shop's roles: the Cognito groups of its user pool. */
export const COFFEE_ROLES = ['customer', 'barista', 'counter', 'operator'] as const;

const BOARD_IS_PUBLIC = 'the shop’s screen: drinks, totals, times and order ids, no personal data; an order id grants nothing (only its customer may cancel it, staff routes need a staff role)';

/**
 * Who may call each route of the coffee shop's HTTP API. Read by the stack (which routes get the JWT
 * authorizer) and by the handlers (role checks); the README's table is checked against it.
 */
export const COFFEE_ACCESS = {
  'POST /orders': { roles: ['customer'], rule: 'the order is the caller’s: a retry of it must come from them too' },
  'POST /orders/{orderId}/cancel': { roles: ['customer'], rule: 'only the customer who placed the order (anyone else: 404)' },
  'POST /barista/orders/{orderId}/start': { roles: ['barista'] },
  'POST /barista/orders/{orderId}/finish': { roles: ['barista'] },
  'POST /counter/orders/{orderId}/serve': { roles: ['counter'] },
  'GET /board': { public: BOARD_IS_PUBLIC },
  'GET /board/orders/{orderId}': { public: BOARD_IS_PUBLIC },
  'GET /analytics/wait-times': { roles: ['operator'] },
} as const satisfies AccessPolicy;
