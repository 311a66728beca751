/**
 * Global setup of the `cloud` test project: brings up the local cloud (or reuses a healthy one,
 * e.g. a user's LocalStack at AWS_ENDPOINT_URL), deploys the reference stacks and the conformance
 * probe once per run, and stops the emulator afterwards if this run started it.
 */
import { ensureCloud, stopCloud } from '../../localstack/cloud';
import { deployStacks } from '../../localstack/deploy';
import { writeOutputs } from './outputs';

export default async function setup(): Promise<() => Promise<void>> {
  const { endpoint, started } = await ensureCloud();
  console.log(`[cloud] ${started ? 'started MiniStack' : 'reusing the local cloud'} at ${endpoint}`);
  const outputs = {
    ...(await deployStacks({ quiet: true })),
    ...(await deployStacks({ app: 'npx tsx test/support/testApp.ts', quiet: true })),
  };
  writeOutputs(outputs);
  console.log(`[cloud] deployed ${Object.keys(outputs).join(', ')} (log: .local/deploy.log)`);
  return async () => {
    if (started) await stopCloud();
  };
}
