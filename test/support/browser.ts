/**
 * Headless Chromium for the browser tests: Debian's `chromium` package (installed by
 * `node scripts/bootstrap.mjs --browser`, which `npm test` runs first), driven by playwright-core.
 * playwright-core gives every launch a fresh, empty profile (a temporary user-data-dir it removes on
 * close; it refuses a `--user-data-dir` argument), so no state leaks from one run to the next.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface LaunchedBrowser {
  readonly browser: Browser;
  /** A fresh browsing context (its own cookies, cache and storage). */
  newContext(): Promise<BrowserContext>;
  close(): Promise<void>;
}

/** Launches headless Chromium (fresh profile). */
export async function launchBrowser(): Promise<LaunchedBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run \`node scripts/bootstrap.mjs --browser\` (as root, with apt) or install Debian's chromium package`);
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  return {
    browser,
    newContext: () => browser.newContext({ viewport: { width: 1400, height: 900 } }),
    close: () => browser.close(),
  };
}
