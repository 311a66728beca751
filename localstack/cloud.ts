/**
 * The local cloud: the embedded MiniStack (default) or a LocalStack-compatible endpoint the user
 * already runs (`AWS_ENDPOINT_URL`). Used by `npm start`, the tests and `localstack/cli.ts`.
 * Nothing under lib/ or functions/ knows about this file.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LOCAL = path.join(ROOT, '.local');
const VENV = path.join(LOCAL, 'venv');
const PID_FILE = path.join(LOCAL, 'ministack.pid');
export const LOG_FILE = path.join(LOCAL, 'ministack.log');
const DEFAULT_ENDPOINT = 'http://127.0.0.1:4566';
export const REGION = 'us-east-1';
export const ACCOUNT = '000000000000';

/** The environment every AWS client, the CDK CLI and the tests use against the local cloud. */
export function cloudEnv(endpoint = endpointUrl()): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'test',
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'test',
    AWS_REGION: REGION,
    AWS_DEFAULT_REGION: REGION,
    CDK_DEFAULT_ACCOUNT: ACCOUNT,
    CDK_DEFAULT_REGION: REGION,
    CDK_DISABLE_CLI_TELEMETRY: 'true',
    // This machine runs Node 20 (AWS runs the functions on 22); the SDK's notice about it is noise here.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

export function endpointUrl(): string {
  return process.env.AWS_ENDPOINT_URL ?? DEFAULT_ENDPOINT;
}

function assertLoopback(endpoint: string): void {
  const host = new URL(endpoint).hostname;
  if (!/^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(host)) {
    throw new Error(`Refusing to use ${endpoint}: the local cloud must be on a loopback address`);
  }
}

export async function isHealthy(endpoint = endpointUrl()): Promise<boolean> {
  for (const probe of ['/_localstack/health', '/_ministack/health']) {
    try {
      const response = await fetch(new URL(probe, endpoint), { signal: AbortSignal.timeout(2000) });
      if (response.ok) return true;
    } catch {
      // not up (yet)
    }
  }
  return false;
}

export async function waitUntilHealthy(endpoint = endpointUrl(), timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await isHealthy(endpoint)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`The local cloud at ${endpoint} did not become healthy within ${timeoutMs / 1000} s; see ${LOG_FILE}`);
}

/** Installs the pinned MiniStack into the project's virtual environment when missing or outdated. */
export function installEmulator(): void {
  const requirements = readFileSync(path.join(ROOT, 'localstack', 'requirements.txt'), 'utf8');
  const marker = path.join(VENV, '.requirements');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === requirements) return;
  mkdirSync(LOCAL, { recursive: true });
  console.log('Installing the local cloud (MiniStack) into .local/venv …');
  const python = process.env.PYTHON ?? 'python3';
  run(python, ['-m', 'venv', VENV]);
  run(path.join(VENV, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', '-r', path.join(ROOT, 'localstack', 'requirements.txt')]);
  writeFileSync(marker, requirements);
}

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed with exit code ${result.status}`);
}

function ourPid(): number | undefined {
  if (!existsSync(PID_FILE)) return undefined;
  const pid = Number(readFileSync(PID_FILE, 'utf8').trim());
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    rmSync(PID_FILE, { force: true });
    return undefined;
  }
}

export interface CloudHandle {
  readonly endpoint: string;
  /** True when this call started the emulator (so the caller may stop it). */
  readonly started: boolean;
}

/**
 * Makes sure a healthy local cloud answers: reuses the one at `AWS_ENDPOINT_URL` (default
 * http://127.0.0.1:4566) if it is healthy, otherwise starts the embedded MiniStack on that loopback
 * port with its log in `.local/` (so a second checkout can run its own on another port).
 */
export async function ensureCloud(): Promise<CloudHandle> {
  const endpoint = endpointUrl();
  assertLoopback(endpoint);
  if (await isHealthy(endpoint)) return { endpoint, started: false };
  installEmulator();
  const state = path.join(LOCAL, 'state');
  // The emulator unpacks function code into its temporary directory. Outside this project, as on AWS
  // (/var/task): inside it, Node would find the project's package.json ("type": "module") and its
  // node_modules above the bundle, and hide a module the bundle fails to carry.
  const tmp = path.join(os.tmpdir(), `ministack-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}`);
  for (const dir of [state, tmp]) mkdirSync(dir, { recursive: true });
  const log = openSync(LOG_FILE, 'a');
  const child = spawn(path.join(VENV, 'bin', 'python'), [path.join(ROOT, 'localstack', 'run_ministack.py')], {
    cwd: LOCAL,
    detached: true,
    stdio: ['ignore', log, log],
    env: {
      // Only what the emulator needs: the host's own AWS settings must not leak into functions.
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? LOCAL,
      GATEWAY_PORT: new URL(endpoint).port || '80',
      BIND_HOST: '127.0.0.1',
      MINISTACK_HOST: '127.0.0.1',
      LAMBDA_EXECUTOR: 'local',
      MINISTACK_REGION: REGION,
      IOT_MTLS_ENABLED: '0',
      SFTP_ENABLED: '0',
      S3_DATA_DIR: path.join(state, 's3'),
      TMPDIR: tmp,
      LOG_LEVEL: 'INFO',
      // The nodejs22.x runtime provides the AWS SDK v3 to every function (bundles leave it out); the
      // emulator's Node does not, so its handlers find the project's copy here, and only that.
      NODE_PATH: lambdaRuntimeModules(),
      // Handlers run on the host's Node 20 here (nodejs22.x on AWS): silence the SDK's notice about it.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
  });
  closeSync(log);
  child.unref();
  writeFileSync(PID_FILE, String(child.pid));
  await waitUntilHealthy(endpoint);
  return { endpoint, started: true };
}

/**
 * A node_modules folder that offers the handlers what the Lambda Node.js runtime offers them: the AWS
 * SDK v3 (`@aws-sdk/*`, a link to the project's copy). Anything else a bundle needs must be in the
 * bundle or in one of its layers, as on AWS.
 */
function lambdaRuntimeModules(): string {
  const modules = path.join(LOCAL, 'lambda-runtime', 'node_modules');
  mkdirSync(modules, { recursive: true });
  const link = path.join(modules, '@aws-sdk');
  if (!existsSync(link)) symlinkSync(path.join(ROOT, 'node_modules', '@aws-sdk'), link, 'dir');
  return modules;
}

/** Stops the emulator this project started (by its PID), and nothing else. */
export async function stopCloud(): Promise<boolean> {
  const pid = ourPid();
  if (pid === undefined) return false;
  try {
    process.kill(-pid, 'SIGTERM'); // its process group: the emulator and the handler workers it spawned
  } catch {
    process.kill(pid, 'SIGTERM');
  }
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && ourPid() !== undefined) await new Promise((resolve) => setTimeout(resolve, 100));
  if (ourPid() !== undefined) process.kill(-pid, 'SIGKILL');
  rmSync(PID_FILE, { force: true });
  return true;
}

/** Wipes the emulator's state (every resource), keeping it running. */
export async function resetCloud(endpoint = endpointUrl()): Promise<void> {
  const response = await fetch(new URL('/_ministack/reset', endpoint), { method: 'POST' });
  if (!response.ok) throw new Error(`Reset failed: HTTP ${response.status}`);
}
