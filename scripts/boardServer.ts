/**
 * Serves the live order board (web/board) on a local port, with the coffee shop's endpoints as
 * /config.json. The emulator cannot host a static site, so `npm start` and the browser tests run this;
 * on AWS the same files would sit behind any static host with its own config.json.
 *
 * Only files inside web/board are served (no directory listing, no path traversal), GET and HEAD only.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';

export const BOARD_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'web', 'board');

const wsUrl = z.url({ protocol: /^wss?$/ });
const httpUrl = z.url({ protocol: /^https?$/ });

/** What the page reads from /config.json. */
export const BoardConfigSchema = z.object({
  /** Base URL of the HTTP API (the page calls `${apiUrl}/board`). */
  apiUrl: httpUrl,
  /** The live channel (API Gateway WebSocket stage URL). */
  liveUrl: wsUrl,
  /** Shown as the page's heading. */
  shopName: z.string().min(1).max(80).optional(),
  /** ISO 4217 code the prices are shown in. @default 'USD' */
  currency: z.string().regex(/^[A-Z]{3}$/).optional(),
});
export type BoardConfig = z.infer<typeof BoardConfigSchema>;

export interface BoardServerOptions {
  readonly config: BoardConfig;
  /** @default 0 (any free port) */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
}

export interface BoardServer {
  /** e.g. `http://127.0.0.1:51234/` */
  readonly url: string;
  close(): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/** A connect-src entry for a URL: its origin (ws: and wss: are special schemes, so they have one). */
const originOf = (url: string): string => new URL(url).origin;

export async function startBoardServer({ config, port = 0, host = '127.0.0.1' }: BoardServerOptions): Promise<BoardServer> {
  const parsed = BoardConfigSchema.parse(config);
  const configBody = Buffer.from(JSON.stringify(parsed));
  const root = await realpath(BOARD_ROOT);
  const headers = {
    // As strict as the policy the page gets on AWS (lib/constructs/StaticWebsite.ts), so that a page
    // change that would break there (an inline style, a third-party script) breaks here first.
    'Content-Security-Policy': [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      `connect-src 'self' ${originOf(parsed.apiUrl)} ${originOf(parsed.liveUrl)}`,
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-cache',
  };

  const send = (res: ServerResponse, status: number, type: string, body: Buffer, head: boolean): void => {
    res.writeHead(status, { ...headers, 'Content-Type': type, 'Content-Length': body.length });
    res.end(head ? undefined : body);
  };
  const notFound = (res: ServerResponse, head: boolean): void => send(res, 404, 'text/plain; charset=utf-8', Buffer.from('Not found\n'), head);

  /** The file a request path names, if it is a regular file inside the board's folder. */
  async function resolveFile(pathname: string): Promise<string | undefined> {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return undefined;
    }
    if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
    const relative = decoded === '/' ? 'index.html' : decoded.replace(/^\/+/, '');
    const candidate = path.resolve(root, relative);
    if (!candidate.startsWith(root + path.sep)) return undefined;
    try {
      const real = await realpath(candidate); // a symlink must not lead out of the folder either
      if (!real.startsWith(root + path.sep) || !(await stat(real)).isFile()) return undefined;
      return real;
    } catch {
      return undefined;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      res.writeHead(405, { ...headers, Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('Method not allowed\n');
      return;
    }
    const { pathname } = new URL(req.url ?? '/', 'http://board.invalid');
    if (pathname === '/config.json') return send(res, 200, CONTENT_TYPES['.json']!, configBody, head);
    const file = await resolveFile(pathname);
    const type = file ? CONTENT_TYPES[path.extname(file).toLowerCase()] : undefined;
    // Types only for the page's own kinds of files: anything else in the folder (e.g. boardState.d.ts) is not served.
    if (!file || !type) return notFound(res, head);
    send(res, 200, type, await readFile(file), head);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('Internal error\n');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${hostForUrl}:${address.port}/`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
