import type { BoardState } from '../../functions/coffee/board/board';
import type { Identity, UserDirectoryClient } from './identities';

/** A small client of the coffee shop's HTTP API, as a customer, the staff and the board page use it. */
export interface ApiAnswer<T = Record<string, unknown>> {
  readonly status: number;
  readonly body: T & { error?: string; message?: string };
}

/** A board row as the queries API serves it: the order's state and the row's revision. */
export type BoardRow = BoardState & { readonly revision: number };

/** A client of a service's HTTP API, calling as `as` (its access token in `Authorization`), or with no token. */
export class ApiClient {
  constructor(
    readonly apiUrl: string,
    readonly as?: Identity,
  ) {}

  /** `as`: who calls (default: this client's identity); `null`: nobody, no token. */
  async call<T = Record<string, unknown>>(method: 'GET' | 'POST', path: string, body?: unknown, as: Identity | null | undefined = this.as): Promise<ApiAnswer<T>> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (as) headers.authorization = `Bearer ${await as.accessToken()}`;
    const response = await fetch(`${this.apiUrl}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = { error: 'NotJson', message: text.slice(0, 200) };
    }
    return { status: response.status, body: parsed as T & { error?: string; message?: string } };
  }

}

/** Who works the coffee shop in a run: a customer (by default), the barista, the counter and an operator. */
export interface ShopActors {
  readonly customer?: Identity;
  readonly barista?: Identity;
  readonly counter?: Identity;
  readonly operator?: Identity;
}

/** The shop's actors, signed in to its user pool (created on first use): `customer` names the customer. */
export async function shopActors(users: UserDirectoryClient, customer = 'customer-1'): Promise<Required<ShopActors>> {
  const [asCustomer, barista, counter, operator] = await Promise.all([
    users.user(customer, ['customer']),
    users.user('barista-1', ['barista']),
    users.user('counter-1', ['counter']),
    users.user('operator-1', ['operator']),
  ]);
  return { customer: asCustomer, barista, counter, operator };
}

/** The coffee shop's API, each call made by the actor whose job it is (a customer orders, the barista brews, …). */
export class CoffeeClient extends ApiClient {
  constructor(
    apiUrl: string,
    readonly actors: ShopActors = {},
  ) {
    super(apiUrl, actors.customer);
  }

  placeOrder = (command: unknown, as = this.actors.customer) => this.call('POST', '/orders', command, as);
  cancel = (orderId: string, as = this.actors.customer) => this.call('POST', `/orders/${encodeURIComponent(orderId)}/cancel`, undefined, as);
  startBrew = (orderId: string) => this.call('POST', `/barista/orders/${encodeURIComponent(orderId)}/start`, undefined, this.actors.barista);
  finishBrew = (orderId: string) => this.call('POST', `/barista/orders/${encodeURIComponent(orderId)}/finish`, undefined, this.actors.barista);
  serve = (orderId: string) => this.call('POST', `/counter/orders/${encodeURIComponent(orderId)}/serve`, undefined, this.actors.counter);
  /** Public: no token sent. */
  /** Every row, page by page (`GET /board` answers a page and a `cursor` for the next). */
  board = async (): Promise<BoardRow[]> => {
    const rows: BoardRow[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.call<{ rows?: BoardRow[]; cursor?: string }>('GET', `/board${cursor === undefined ? '' : `?cursor=${encodeURIComponent(cursor)}`}`, undefined, null);
      if (page.status !== 200) throw new Error(`GET /board answered ${page.status}: ${page.body.error ?? ''} ${page.body.message ?? ''}`);
      rows.push(...(page.body.rows ?? []));
      cursor = page.body.cursor;
    } while (cursor !== undefined);
    return rows;
  };
  boardRow = (orderId: string) => this.call<BoardRow>('GET', `/board/orders/${encodeURIComponent(orderId)}`, undefined, null);
  waitTimes = () => this.call<{ served: number; totalWaitMs: number; cancelled: number; averageWaitSeconds: number | null }>('GET', '/analytics/wait-times', undefined, this.actors.operator);
}
