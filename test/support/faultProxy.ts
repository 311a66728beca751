import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small fault-injection proxy for AWS endpoints, on loopback only: forwards requests unchanged to
 * the local cloud, or — while `failing` — answers them with a modelled AWS 503 (ServiceUnavailable),
 * the kind of fault an SDK and the relay must retry. Counts what it refused and forwarded.
 */
export class FaultProxy {
  failing = false;
  refused = 0;
  forwarded = 0;
  private readonly server: http.Server;

  constructor(private readonly target: URL) {
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.failing) {
      this.refused++;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ __type: 'ServiceUnavailable', message: 'Injected by the test fault proxy' }));
      return;
    }
    this.forwarded++;
    const upstream = http.request(
      { host: this.target.hostname, port: this.target.port, method: req.method, path: req.url, headers: req.headers },
      (response) => {
        res.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(res);
      },
    );
    upstream.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  }
}
