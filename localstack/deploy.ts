import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ACCOUNT, cloudEnv, REGION, ROOT } from './cloud';
import { reapplyDroppedProperties } from './fixups';
import { LOCAL_BOARD_ORIGIN } from './endpoints';

export const OUTPUTS_FILE = path.join(ROOT, '.local', 'outputs.json');

const DEPLOY_LOG = path.join(ROOT, '.local', 'deploy.log');
/** An empty folder (no cdk.json) to bootstrap from. */
const BOOTSTRAP_DIR = path.join(ROOT, '.local', 'bootstrap');

/** Stacks deployed at once. */
const DEPLOY_CONCURRENCY = 4;

/** Runs the CDK CLI without blocking the event loop (`npm start` keeps the shop running meanwhile). */
async function cdk(args: string[], quiet: boolean, cwd = ROOT): Promise<void> {
  const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'cdk'), args, {
    cwd,
    stdio: quiet ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, ...cloudEnv() },
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const status = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (quiet) appendFileSync(DEPLOY_LOG, `$ cdk ${args.join(' ')}\n${stdout}${stderr}\n`);
  if (status !== 0) {
    const tail = quiet ? `\n${stderr.split('\n').slice(-40).join('\n')}` : '';
    throw new Error(`cdk ${args.join(' ')} failed with exit code ${status}${tail}`);
  }
}

/**
 * Deploys the app to the local cloud with the plain CDK CLI (`cdk bootstrap`, `cdk deploy`), exactly
 * as to AWS but for the endpoint, then returns the stacks' outputs.
 */
export async function deployStacks(options: { app?: string; stacks?: string[]; quiet?: boolean; context?: Record<string, string> } = {}): Promise<Record<string, Record<string, string>>> {
  mkdirSync(path.dirname(OUTPUTS_FILE), { recursive: true });
  Object.assign(process.env, cloudEnv());
  // Named after the app's file path, not its base name: bench/app.ts and bin/app.ts must not share one.
  const appName = options.app ? options.app.trim().split(/\s+/).pop()!.replace(/\W/g, '_') : undefined;
  const outdir = path.join(ROOT, '.local', appName ? `cdk.out.${appName}` : 'cdk.out');
  // `local-cloud=true` lets the app leave out what the emulator cannot run (the board site's
  // BucketDeployment, a Python custom resource: see localstack/README.md).
  // The local board server's origin is the one the coffee shop's API allows (CORS).
  const context = Object.entries({ 'local-cloud': 'true', 'coffee:allowedOrigins': LOCAL_BOARD_ORIGIN, ...options.context }).flatMap(([key, value]) => ['--context', `${key}=${value}`]);
  const appArgs = [...(options.app ? ['--app', options.app] : []), '--output', outdir, ...context];
  const quiet = options.quiet ?? false;
  // The bootstrap stack does not depend on the app: run outside the project, so that the CLI does
  // not synthesize the whole app (and bundle every function) just to bootstrap (10+ s each time).
  mkdirSync(BOOTSTRAP_DIR, { recursive: true });
  await cdk(['bootstrap', `aws://${ACCOUNT}/${REGION}`], quiet, BOOTSTRAP_DIR);
  const outputs = appName ? `${OUTPUTS_FILE}.${appName}.json` : OUTPUTS_FILE;
  // Independent stacks side by side (dependencies still deploy first): most of a deploy is waiting
  // on the stack's status, not work on this machine.
  await cdk(['deploy', ...(options.stacks ?? ['--all']), ...appArgs, '--require-approval', 'never', '--concurrency', String(DEPLOY_CONCURRENCY), '--outputs-file', outputs, '--progress', 'events'], quiet);
  const result: Record<string, Record<string, string>> = existsSync(outputs) ? JSON.parse(readFileSync(outputs, 'utf8')) : {};
  for (const stackName of Object.keys(result)) {
    for (const fix of await reapplyDroppedProperties(stackName, path.join(outdir, `${stackName}.template.json`))) {
      const line = `local cloud fixup: ${fix}`;
      if (quiet) appendFileSync(DEPLOY_LOG, `${line}\n`);
      else console.log(line);
    }
  }
  return result;
}
