import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as z from 'zod';
import { ROOT } from '../../localstack/cloud';

const FILE = path.join(ROOT, '.local', 'test-outputs.json');
const SETUP_FILE = path.join(ROOT, '.local', 'test-cloud-setup.json');
type Outputs = Record<string, Record<string, string>>;

export function writeOutputs(outputs: Outputs): void {
  writeFileSync(FILE, JSON.stringify(outputs, null, 2));
}

/** The deployed stack's outputs (written by the global setup). */
export function stackOutputs(stack: string): Record<string, string> {
  const all = JSON.parse(readFileSync(FILE, 'utf8')) as Outputs;
  const outputs = all[stack];
  if (!outputs) throw new Error(`stack ${stack} was not deployed by the test setup`);
  return outputs;
}

/** Where the global setup's deploy stands: the test workers read it, the setup writes it. */
const CloudSetup = z.discriminatedUnion('state', [z.object({ state: z.literal('pending') }), z.object({ state: z.literal('ready') }), z.object({ state: z.literal('failed'), error: z.string() })]);
type CloudSetup = z.infer<typeof CloudSetup>;

export function markCloudSetup(status: CloudSetup): void {
  mkdirSync(path.dirname(SETUP_FILE), { recursive: true });
  // Written whole, then renamed: a worker polling it never reads half a file.
  writeFileSync(`${SETUP_FILE}.tmp`, JSON.stringify(status));
  renameSync(`${SETUP_FILE}.tmp`, SETUP_FILE);
}

/** Waits until the global setup has started the local cloud and deployed the stacks; throws its error if it failed. */
export async function waitForCloudSetup(timeoutMs = 20 * 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = CloudSetup.parse(JSON.parse(readFileSync(SETUP_FILE, 'utf8')));
    if (status.state === 'ready') return;
    if (status.state === 'failed') throw new Error(`the test setup could not start the local cloud or deploy the stacks: ${status.error}`);
    if (Date.now() > deadline) throw new Error(`the test setup did not deploy the stacks within ${timeoutMs / 60_000} min (see .local/deploy.log)`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
