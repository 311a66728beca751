/**
 * A stand-in for the coffee shop's backend-for-frontend, for the board page's browser tests: GET /board
 * over HTTP (with open CORS, as the real HTTP API) and a WebSocket live channel that pushes
 * `{"kind":"board.row","row":…}` messages. The live channel can be dropped and brought back on the
 * same port, as when API Gateway closes an idle connection or the network blips.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { BoardRow } from '../../web/board/boardState.js';

const HOST = '127.0.0.1';

export class FakeShop {
  /** What GET /board answers. */
  readonly rows = new Map<string, BoardRow>();
  /** How many times GET /board was called. */
  boardRequests = 0;
  private http?: Server;
  private live?: WebSocketServer;
  private livePort = 0;

  get apiUrl(): string {
    return `http://${HOST}:${(this.http!.address() as AddressInfo).port}`;
  }

  get liveUrl(): string {
    return `ws://${HOST}:${this.livePort}/live`;
  }

  /** How many browsers are connected to the live channel. */
  get connections(): number {
    return this.live?.clients.size ?? 0;
  }

  setRows(...rows: BoardRow[]): void {
    for (const row of rows) this.rows.set(row.orderId, row);
  }

  async start(): Promise<void> {
    this.http = createServer((req, res) => {
      const cors = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Methods': 'GET, POST', 'Access-Control-Allow-Headers': 'content-type' };
      if (req.method === 'OPTIONS') {
        res.writeHead(204, cors).end();
      } else if (req.method === 'GET' && req.url === '/board') {
        this.boardRequests++;
        res.writeHead(200, { ...cors, 'Content-Type': 'application/json' }).end(JSON.stringify({ rows: [...this.rows.values()] }));
      } else {
        res.writeHead(404, cors).end();
      }
    });
    await new Promise<void>((resolve) => this.http!.listen(0, HOST, resolve));
    await this.startLive();
  }

  /** (Re)opens the live channel, on the port it had before if it had one. */
  async startLive(): Promise<void> {
    const live = new WebSocketServer({ host: HOST, port: this.livePort, path: '/live' });
    await new Promise<void>((resolve, reject) => {
      live.once('listening', resolve);
      live.once('error', reject);
    });
    this.livePort = (live.address() as AddressInfo).port;
    this.live = live;
  }

  /** Drops every connection abruptly and stops accepting new ones. */
  async stopLive(): Promise<void> {
    const live = this.live;
    if (!live) return;
    this.live = undefined;
    for (const client of live.clients) client.terminate();
    await new Promise<void>((resolve, reject) => live.close((error) => (error ? reject(error) : resolve())));
  }

  /** Pushes a row to every connected browser, as the live channel does (it does not change the snapshot). */
  push(row: BoardRow): void {
    const message = JSON.stringify({ kind: 'board.row', row });
    for (const client of this.live?.clients ?? []) client.send(message);
  }

  /** Sends any text on the live channel (for malformed-message tests). */
  pushRaw(text: string): void {
    for (const client of this.live?.clients ?? []) client.send(text);
  }

  async stop(): Promise<void> {
    await this.stopLive();
    await new Promise<void>((resolve) => {
      this.http?.closeAllConnections();
      this.http ? this.http.close(() => resolve()) : resolve();
    });
  }
}

/** A board row as the read model would have it, `minutesAgo` after it was placed. */
export function boardRow(orderId: string, status: BoardRow['status'], revision: number, { summary = '1× medium latte', totalCents = 380, placedMinutesAgo = 2, overdue = false } = {}): BoardRow {
  const at = (minutesAgo: number): string => new Date(Date.now() - minutesAgo * 60_000).toISOString();
  const events: Record<BoardRow['status'], { type: string; source: string }> = {
    queued: { type: 'coffee.order.placed', source: 'coffee.orders' },
    brewing: { type: 'coffee.brew.started', source: 'coffee.barista' },
    ready: { type: 'coffee.brew.finished', source: 'coffee.barista' },
    served: { type: 'coffee.order.served', source: 'coffee.counter' },
    cancelled: { type: 'coffee.order.cancelled', source: 'coffee.orders' },
  };
  return {
    orderId,
    status,
    summary,
    totalCents,
    placedAt: at(placedMinutesAgo),
    ...(status === 'brewing' || status === 'ready' || status === 'served' ? { brewingAt: at(placedMinutesAgo * 0.7) } : {}),
    ...(status === 'ready' || status === 'served' ? { readyAt: at(placedMinutesAgo * 0.4) } : {}),
    ...(status === 'served' ? { servedAt: at(placedMinutesAgo * 0.1) } : {}),
    ...(status === 'cancelled' ? { cancelledAt: at(placedMinutesAgo * 0.5) } : {}),
    overdue,
    revision,
    lastEvent: { ...events[status], sequence: revision },
  };
}
