/**
 * The live order board end to end, in headless Chromium against the deployed CoffeeShop stack: the
 * page (served locally by scripts/boardServer.ts, as `npm start` does) reads GET /board and follows the
 * WebSocket live channel; orders are driven through the HTTP API like a till, a barista and a counter
 * would, and each card must move across the board by pushes alone (no reconnect, no re-fetch).
 */
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { LOCAL_BOARD_PORT, localApiUrl, localWebSocketUrl } from '../../localstack/endpoints';
import type { CoffeeClient } from '../../scripts/demo/coffeeClient';
import { coffeeShop } from '../support/actors';
import { startBoardServer, type BoardServer } from '../../scripts/boardServer';
import { launchBrowser, type LaunchedBrowser } from '../support/browser';
import { unique } from '../support/eventually';
import { stackOutputs } from '../support/outputs';

/** One hop of the event flow (command → outbox → relay → bus → projection → stream → push) on the emulator. */
const HOP = { timeout: 60_000, interval: 200 };

const CommandAccepted = z.object({ orderId: z.string(), status: z.string() });

interface InPage {
  document: { querySelector(selector: string): { closest(selector: string): { getAttribute(name: string): string | null } | null } | null };
}

const columnOf = (page: Page, orderId: string): Promise<string | null | undefined> =>
  page.evaluate((id) => {
    const { document } = globalThis as unknown as InPage;
    return document.querySelector(`[data-order-id="${id}"]`)?.closest('[data-column]')?.getAttribute('data-column');
  }, orderId);

describe('the live order board on the deployed coffee shop', () => {
  let apiUrl: string;
  let chromium: LaunchedBrowser;
  let context: BrowserContext;
  let server: BoardServer;
  let page: Page;
  let boardFetches = 0;
  let sockets = 0;
  const pageErrors: string[] = [];

  let shop: CoffeeClient;
  /** Sends a command to the HTTP API as the actor whose job it is (the barista's and the counter's routes as staff, the rest as the customer). */
  const post = (path: string, body?: unknown) =>
    shop.call('POST', path, body, path.startsWith('/barista/') ? shop.actors.barista : path.startsWith('/counter/') ? shop.actors.counter : shop.actors.customer);

  beforeAll(async () => {
    const outputs = stackOutputs('CoffeeShop');
    apiUrl = localApiUrl(z.string().min(1).parse(outputs.ApiId));
    const liveUrl = localWebSocketUrl(z.string().min(1).parse(outputs.LiveApiId), outputs.LiveStageName ?? 'live');
    shop = await coffeeShop();
    // On the origin the shop's API allows (CORS), as npm start serves it.
    server = await startBoardServer({ port: LOCAL_BOARD_PORT, config: { apiUrl, liveUrl, shopName: 'Coffee shop (local)' } });
    chromium = await launchBrowser();
    context = await chromium.newContext();
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('request', (request) => {
      if (request.method() === 'GET' && new URL(request.url()).pathname.endsWith('/board')) boardFetches++;
    });
    page.on('websocket', () => sockets++);
    await page.goto(server.url);
    await page.waitForSelector('#connection[data-connection="live"]', { timeout: 30_000 });
  });

  afterAll(async () => {
    await context?.close();
    await chromium?.close();
    await server?.close();
  });

  it('loads the board across origins and goes live', async () => {
    // assert: the snapshot came through (CORS) and no error notice is shown
    await expect.poll(() => boardFetches, HOP).toBeGreaterThan(0);
    await expect.poll(() => page.locator('#notice').isHidden(), HOP).toBe(true);
    expect(sockets).toBe(1);
    expect(pageErrors).toEqual([]);
  });

  it('moves an order queued → brewing → ready → served as the shop works on it', async () => {
    // arrange
    const orderId = unique('board');
    const fetchesBefore = boardFetches;

    // act + assert: the till places it
    const placed = await post('/orders', { orderId, lines: [{ product: 'latte', size: 'large', quantity: 2 }] });
    expect(placed.status).toBe(201);
    expect(CommandAccepted.parse(placed.body)).toEqual({ orderId, status: 'placed' });
    await expect.poll(() => columnOf(page, orderId), HOP).toBe('queued');
    const card = page.locator(`[data-order-id="${orderId}"]`);
    expect(await card.locator('.summary').textContent()).toMatch(/latte/);
    expect(await card.locator('.wait').textContent()).toMatch(/^waiting for \d/);

    // the barista starts and finishes it, the counter hands it over
    for (const [path, column] of [
      [`/barista/orders/${orderId}/start`, 'brewing'],
      [`/barista/orders/${orderId}/finish`, 'ready'],
      [`/counter/orders/${orderId}/serve`, 'served'],
    ] as const) {
      // as staff at a tablet: the service may not have heard of the order yet (404) for a moment
      let response = await post(path);
      for (let tries = 0; (response.status === 404 || JSON.stringify(response.body).includes('NotReady')) && tries < 60; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        response = await post(path);
      }
      expect(response.status, `POST ${path} answered ${JSON.stringify(response.body)}`).toBe(200);
      await expect.poll(() => columnOf(page, orderId), HOP).toBe(column);
      expect(await card.getAttribute('data-status')).toBe(column);
    }
    expect(await card.locator('.wait').textContent()).toMatch(/^served in \d/);

    // assert: every move arrived by push on the one connection, without a re-fetch or a reload
    expect(boardFetches).toBe(fetchesBefore);
    expect(sockets).toBe(1);
    expect(await page.locator('#connection').getAttribute('data-connection')).toBe('live');
    expect(pageErrors).toEqual([]);
  });

  it('moves a cancelled order to the cancelled strip', async () => {
    // arrange
    const orderId = unique('board');
    expect((await post('/orders', { orderId, lines: [{ product: 'mocha' }] })).status).toBe(201);
    await expect.poll(() => columnOf(page, orderId), HOP).toBe('queued');

    // act
    const cancelled = await post(`/orders/${orderId}/cancel`);

    // assert
    expect(cancelled.status).toBe(200);
    expect(CommandAccepted.parse(cancelled.body)).toEqual({ orderId, status: 'cancelled' });
    await expect.poll(() => columnOf(page, orderId), HOP).toBe('cancelled');
    expect(pageErrors).toEqual([]);
  });
});
