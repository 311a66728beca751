import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/construct/**/*.test.ts'],
          testTimeout: 60_000,
          // Synthesizing a whole app (nag checks) takes seconds, more on a busy 2-core machine.
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          // The order board page in headless Chromium against a fake backend: no cloud needed.
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'cloud',
          include: ['test/conformance/**/*.test.ts', 'test/integration/**/*.test.ts'],
          // Starts (or reuses) the local cloud and deploys the stacks once per run.
          globalSetup: ['test/support/cloudSetup.ts'],
          setupFiles: ['test/support/cloudEnv.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          // The emulator is one process with one poller: files run one after another.
          fileParallelism: false,
        },
      },
    ],
  },
});
