import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBoardServer, type BoardServer } from '../../scripts/boardServer';

/** A raw GET with the path exactly as given (fetch would normalise `..` away before sending). */
function rawGet(base: string, rawPath: string, method = 'GET'): Promise<{ status: number; type: string | undefined; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path: rawPath, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('startBoardServer', () => {
  const config = { apiUrl: 'http://127.0.0.1:4566/_aws/execute-api/abc123/$default', liveUrl: 'ws://127.0.0.1:4566/_aws/execute-api/def456/live' };
  let server: BoardServer;

  beforeAll(async () => {
    server = await startBoardServer({ config });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('listens on loopback on a free port', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it('serves the page and its assets with their content types', async () => {
    expect(await rawGet(server.url, '/')).toMatchObject({ status: 200, type: 'text/html; charset=utf-8' });
    expect(await rawGet(server.url, '/index.html')).toMatchObject({ status: 200, type: 'text/html; charset=utf-8' });
    expect(await rawGet(server.url, '/board.js')).toMatchObject({ status: 200, type: 'text/javascript; charset=utf-8' });
    expect(await rawGet(server.url, '/boardState.js')).toMatchObject({ status: 200, type: 'text/javascript; charset=utf-8' });
    expect(await rawGet(server.url, '/board.css')).toMatchObject({ status: 200, type: 'text/css; charset=utf-8' });
    expect(await rawGet(server.url, '/favicon.svg')).toMatchObject({ status: 200, type: 'image/svg+xml' });
  });

  it('serves the given config as /config.json', async () => {
    const response = await rawGet(server.url, '/config.json');
    expect(response.status).toBe(200);
    expect(response.type).toBe('application/json; charset=utf-8');
    expect(JSON.parse(response.body)).toEqual(config);
  });

  it('lets the page talk only to itself and the two endpoints', async () => {
    const csp = (await fetch(server.url)).headers.get('content-security-policy');
    expect(csp).toContain("connect-src 'self' http://127.0.0.1:4566 ws://127.0.0.1:4566");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
  });

  it.each([
    '/../package.json',
    '/..%2fpackage.json',
    '/%2e%2e/%2e%2e/package.json',
    '/..%5cpackage.json',
    '/%00index.html',
    '/boardState.d.ts',
    '/missing.html',
    '/%E0%A4%A',
  ])('answers 404 for %s', async (rawPath) => {
    const response = await rawGet(server.url, rawPath);
    expect(response.status).toBe(404);
    expect(response.body).not.toContain('"name"');
  });

  it('accepts only GET and HEAD', async () => {
    expect((await rawGet(server.url, '/', 'POST')).status).toBe(405);
    expect(await rawGet(server.url, '/', 'HEAD')).toMatchObject({ status: 200, body: '' });
  });

  it('refuses a config that is not a pair of HTTP and WebSocket URLs', async () => {
    await expect(startBoardServer({ config: { apiUrl: 'ws://127.0.0.1/x', liveUrl: 'http://127.0.0.1/y' } })).rejects.toThrow();
  });
});
