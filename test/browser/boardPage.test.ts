import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startBoardServer, type BoardServer } from '../../scripts/boardServer';
import { launchBrowser, type LaunchedBrowser } from '../support/browser';
import { boardRow, FakeShop } from './fakeShop';

const WAIT = { timeout: 15_000, interval: 100 };

/**
 * The little of the browser's globals the page-side callbacks below use. (The repository's tsconfig has
 * no DOM library, on purpose: everything else is Node code. The callbacks run in Chromium.)
 */
interface InPage {
  document: { querySelector(selector: string): { closest(selector: string): { getAttribute(name: string): string | null } | null } | null };
  performance: { timeOrigin: number; getEntriesByType(type: string): unknown[] };
  __sameDocument?: string;
  __owned?: number;
}

/** The column a card is shown in (`undefined` while it is not on the page). */
const columnOf = (page: Page, orderId: string): Promise<string | null | undefined> =>
  page.evaluate((id) => {
    const { document } = globalThis as unknown as InPage;
    return document.querySelector(`[data-order-id="${id}"]`)?.closest('[data-column]')?.getAttribute('data-column');
  }, orderId);

const connectionOf = (page: Page): Promise<string | null> => page.locator('#connection').getAttribute('data-connection');

describe('the order board page', () => {
  let chromium: LaunchedBrowser;
  let context: BrowserContext;
  let shop: FakeShop;
  let server: BoardServer;
  let errors: string[];

  beforeAll(async () => {
    chromium = await launchBrowser();
  });
  afterAll(async () => {
    await chromium?.close();
  });

  beforeEach(async () => {
    shop = new FakeShop();
    await shop.start();
    server = await startBoardServer({ config: { apiUrl: shop.apiUrl, liveUrl: shop.liveUrl, shopName: 'Harbour Street Coffee', currency: 'EUR' } });
    context = await chromium.newContext();
    errors = [];
  });
  afterEach(async () => {
    await context?.close();
    await server?.close();
    await shop?.stop();
  });

  async function openBoard(): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (error) => errors.push(error.message));
    // A blocked resource is only reported on the console (failed WebSocket attempts while the channel is down are expected).
    page.on('console', (message) => {
      if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) errors.push(message.text());
    });
    await page.goto(server.url);
    await expect.poll(() => connectionOf(page), WAIT).toBe('live');
    await expect.poll(() => shop.connections, WAIT).toBe(1);
    return page;
  }

  it('shows the snapshot as cards in their columns, with counts and ticking wait times', async () => {
    // arrange
    shop.setRows(
      boardRow('order-q1', 'queued', 1, { summary: '2× large latte', totalCents: 1140, placedMinutesAgo: 1.5 }),
      boardRow('order-q2', 'queued', 1, { overdue: true, placedMinutesAgo: 7 }),
      boardRow('order-b1', 'brewing', 2),
      boardRow('order-r1', 'ready', 3),
      boardRow('order-s1', 'served', 4, { placedMinutesAgo: 4 }),
      boardRow('order-c1', 'cancelled', 2),
    );

    // act
    const page = await openBoard();

    // assert
    await expect.poll(() => columnOf(page, 'order-q1'), WAIT).toBe('queued');
    expect(await columnOf(page, 'order-q2')).toBe('queued');
    expect(await columnOf(page, 'order-b1')).toBe('brewing');
    expect(await columnOf(page, 'order-r1')).toBe('ready');
    expect(await columnOf(page, 'order-s1')).toBe('served');
    expect(await columnOf(page, 'order-c1')).toBe('cancelled');
    const queued = page.locator('[data-column="queued"] [data-order-id]');
    const queuedIds = await Promise.all((await queued.all()).map((card) => card.getAttribute('data-order-id')));
    expect(queuedIds).toEqual(['order-q2', 'order-q1']); // oldest first
    const card = page.locator('[data-order-id="order-q1"]');
    expect(await card.getAttribute('data-status')).toBe('queued');
    expect(await card.locator('.summary').textContent()).toBe('2× large latte');
    expect(await card.locator('.price').textContent()).toMatch(/11[.,]40/);
    expect(await card.locator('.wait').textContent()).toMatch(/^waiting for 1m (2\d|3\d)s$/);
    expect(await page.locator('[data-order-id="order-q2"] .badge-overdue').isVisible()).toBe(true);
    expect(await card.locator('.badge-overdue').isVisible()).toBe(false);
    expect(await page.locator('#count-queued').textContent()).toBe('2');
    expect(await page.locator('#count-overdue').textContent()).toBe('1');
    expect(await page.locator('#median-serve').textContent()).toMatch(/^3m \d\ds$/);
    expect(await page.locator('h1').textContent()).toBe('Harbour Street Coffee');
    expect(await page.locator('#stats').getAttribute('aria-live')).toBe('polite');
    expect(await page.locator('main').count()).toBe(1);
    const before = await card.locator('.wait').textContent();
    await expect.poll(() => card.locator('.wait').textContent(), WAIT).not.toBe(before); // the clock ticks
    expect(errors).toEqual([]);
  });

  it('moves a card when a newer revision is pushed, and ignores stale and duplicate pushes', async () => {
    // arrange
    shop.setRows(boardRow('order-1', 'queued', 1));
    const page = await openBoard();
    await expect.poll(() => columnOf(page, 'order-1'), WAIT).toBe('queued');

    // act: brew started
    shop.push(boardRow('order-1', 'brewing', 2));

    // assert
    await expect.poll(() => columnOf(page, 'order-1'), WAIT).toBe('brewing');
    expect(await page.locator('[data-order-id="order-1"]').getAttribute('data-status')).toBe('brewing');
    expect(await page.locator('#count-queued').textContent()).toBe('0');
    expect(await page.locator('#count-brewing').textContent()).toBe('1');

    // act: the older state arrives late, then a duplicate, then a marker that proves both were processed
    shop.push(boardRow('order-1', 'queued', 1));
    shop.push(boardRow('order-1', 'cancelled', 2)); // same revision as shown: not newer, so not applied
    shop.pushRaw('{"kind":"something.else"}');
    shop.pushRaw('not json');
    shop.push(boardRow('order-marker', 'queued', 1));

    // assert
    await expect.poll(() => columnOf(page, 'order-marker'), WAIT).toBe('queued');
    expect(await columnOf(page, 'order-1')).toBe('brewing');
    expect(await page.locator('[data-order-id="order-1"]').getAttribute('data-revision')).toBe('2');
    expect(errors).toEqual([]);
  });

  it('shows data as text, never as markup', async () => {
    // arrange
    shop.setRows(boardRow('order-x', 'queued', 1, { summary: '<img src=x onerror="window.__owned=1">1× mocha' }));

    // act
    const page = await openBoard();
    await expect.poll(() => columnOf(page, 'order-x'), WAIT).toBe('queued');

    // assert
    expect(await page.locator('[data-order-id="order-x"] .summary').textContent()).toBe('<img src=x onerror="window.__owned=1">1× mocha');
    expect(await page.locator('[data-order-id="order-x"] img').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as InPage).__owned)).toBeUndefined();
    expect(errors).toEqual([]);
  });

  it('says it is reconnecting when the live channel drops, then resumes from a fresh snapshot without reloading', async () => {
    // arrange
    shop.setRows(boardRow('order-a', 'queued', 1), boardRow('order-b', 'queued', 1));
    const page = await openBoard();
    await expect.poll(() => columnOf(page, 'order-a'), WAIT).toBe('queued');
    shop.push(boardRow('order-a', 'brewing', 2));
    await expect.poll(() => columnOf(page, 'order-a'), WAIT).toBe('brewing');
    const timeOrigin = await page.evaluate(() => {
      const window = globalThis as unknown as InPage;
      window.__sameDocument = 'still here';
      return window.performance.timeOrigin;
    });

    // act: the channel drops
    await shop.stopLive();

    // assert
    await expect.poll(() => connectionOf(page), WAIT).toBe('reconnecting');
    expect(await page.locator('#connection-text').textContent()).toBe('Reconnecting…');

    // act: while the page is away, orders move on (no push reaches it), then the channel comes back
    shop.setRows(boardRow('order-a', 'ready', 3), boardRow('order-b', 'brewing', 2), boardRow('order-new', 'queued', 1));
    const fetchesBefore = shop.boardRequests;
    await shop.startLive();

    // assert: live again, with the newer state from the snapshot, in the same document
    await expect.poll(() => connectionOf(page), { ...WAIT, timeout: 30_000 }).toBe('live');
    await expect.poll(() => columnOf(page, 'order-a'), WAIT).toBe('ready');
    expect(await columnOf(page, 'order-b')).toBe('brewing');
    expect(await columnOf(page, 'order-new')).toBe('queued');
    expect(shop.boardRequests).toBeGreaterThan(fetchesBefore);
    const after = await page.evaluate(() => {
      const window = globalThis as unknown as InPage;
      return { marker: window.__sameDocument, navigations: window.performance.getEntriesByType('navigation').length, timeOrigin: window.performance.timeOrigin };
    });
    expect(after).toEqual({ marker: 'still here', navigations: 1, timeOrigin });

    // and pushes flow again on the new connection
    shop.push(boardRow('order-a', 'served', 4));
    await expect.poll(() => columnOf(page, 'order-a'), WAIT).toBe('served');
    expect(errors).toEqual([]);
  });
});
