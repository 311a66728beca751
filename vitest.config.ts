import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * The cloud tests share one emulator. The chaos test injects faults into the deployed functions and
 * may leave events in dead-letter queues (with their reasons, as it must): it runs last, so that no
 * test that counts dead letters or compares read models runs after it.
 */
class ChaosLastSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const isChaos = (file: TestSpecification) => file.moduleId.endsWith('/test/integration/chaos.test.ts');
    return [...sorted.filter((file) => !isChaos(file)), ...sorted.filter(isChaos)];
  }
}

export default defineConfig({
  test: {
    sequence: { sequencer: ChaosLastSequencer },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/construct/**/*.test.ts'],
          // One module cache for all the files (aws-cdk-lib is imported once, not per file): none of
          // them mocks a module or changes the environment. They run while the cloud setup deploys.
          isolate: false,
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
