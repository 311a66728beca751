import type { BoardState } from '../../functions/coffee/board/board';

/** A small client of the coffee shop's HTTP API, as a customer, the staff and the board page use it. */
export interface ApiAnswer<T = Record<string, unknown>> {
  readonly status: number;
  readonly body: T & { error?: string; message?: string };
}

/** A board row as the queries API serves it: the order's state and the row's revision. */
export type BoardRow = BoardState & { readonly revision: number };

export class CoffeeClient {
  constructor(readonly apiUrl: string) {}

  async call<T = Record<string, unknown>>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<ApiAnswer<T>> {
    const response = await fetch(`${this.apiUrl}${path}`, {
      method,
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
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

  placeOrder = (command: unknown) => this.call('POST', '/orders', command);
  cancel = (orderId: string) => this.call('POST', `/orders/${encodeURIComponent(orderId)}/cancel`);
  startBrew = (orderId: string) => this.call('POST', `/barista/orders/${encodeURIComponent(orderId)}/start`);
  finishBrew = (orderId: string) => this.call('POST', `/barista/orders/${encodeURIComponent(orderId)}/finish`);
  serve = (orderId: string) => this.call('POST', `/counter/orders/${encodeURIComponent(orderId)}/serve`);
  board = async (): Promise<BoardRow[]> => (await this.call<{ rows: BoardRow[] }>('GET', '/board')).body.rows ?? [];
  boardRow = (orderId: string) => this.call<BoardRow>('GET', `/board/orders/${encodeURIComponent(orderId)}`);
  waitTimes = () => this.call<{ served: number; totalWaitMs: number; cancelled: number; averageWaitSeconds: number | null }>('GET', '/analytics/wait-times');
}
