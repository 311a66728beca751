/**
 * Global setup of the `cloud` test project: brings up the local cloud (or reuses a healthy one,
 * e.g. a user's LocalStack at AWS_ENDPOINT_URL), deploys the reference stacks and the conformance
 * probe once per run, and stops the emulator afterwards if this run started it.
 *
 * The deploy runs in the background: vitest runs the unit and browser files (one group) before the
 * cloud files (their own, one file at a time), so they overlap with it instead of waiting for it.
 * Each cloud file waits for it in its setup file (cloudEnv.ts), which fails with the deploy's error.
 */
import { ensureCloud, stopCloud } from '../../localstack/cloud';
import { deployStacks } from '../../localstack/deploy';
import { markCloudSetup, writeOutputs } from './outputs';

export default function setup(): () => Promise<void> {
  markCloudSetup({ state: 'pending' });
  const ready = (async () => {
    const { endpoint, started } = await ensureCloud();
    console.log(`[cloud] ${started ? 'started MiniStack' : 'reusing the local cloud'} at ${endpoint}`);
    try {
      const outputs = {
        ...(await deployStacks({ quiet: true })),
        ...(await deployStacks({ app: 'npx tsx test/support/testApp.ts', quiet: true })),
      };
      writeOutputs(outputs);
      console.log(`[cloud] deployed ${Object.keys(outputs).join(', ')} (log: .local/deploy.log)`);
      markCloudSetup({ state: 'ready' });
    } catch (error) {
      markCloudSetup({ state: 'failed', error: error instanceof Error ? error.message : String(error) });
    }
    return started;
  })().catch((error: unknown) => {
    markCloudSetup({ state: 'failed', error: error instanceof Error ? error.message : String(error) });
    return false;
  });
  return async () => {
    if (await ready) await stopCloud();
  };
}
