import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ACCOUNT, cloudEnv, REGION, ROOT } from './cloud';

export const OUTPUTS_FILE = path.join(ROOT, '.local', 'outputs.json');

function cdk(args: string[], extraEnv: Record<string, string> = {}): void {
  const result = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'cdk'), args, {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, ...cloudEnv(), ...extraEnv },
  });
  if (result.status !== 0) throw new Error(`cdk ${args.join(' ')} failed with exit code ${result.status}`);
}

/**
 * Deploys the app to the local cloud with the plain CDK CLI (`cdk bootstrap`, `cdk deploy`), exactly
 * as to AWS but for the endpoint, then returns the stacks' outputs.
 */
export async function deployStacks(options: { app?: string; stacks?: string[] } = {}): Promise<Record<string, Record<string, string>>> {
  mkdirSync(path.dirname(OUTPUTS_FILE), { recursive: true });
  const appArgs = options.app ? ['--app', options.app] : [];
  cdk(['bootstrap', `aws://${ACCOUNT}/${REGION}`, ...appArgs, '--quiet']);
  const outputs = options.app ? `${OUTPUTS_FILE}.${path.basename(options.app).replace(/\W/g, '_')}.json` : OUTPUTS_FILE;
  cdk(['deploy', ...(options.stacks ?? ['--all']), ...appArgs, '--require-approval', 'never', '--outputs-file', outputs, '--progress', 'events']);
  return existsSync(outputs) ? JSON.parse(readFileSync(outputs, 'utf8')) : {};
}
