/**
 * microburst (PyPI, MIT), the protocol-aware AWS fault-injection proxy, pinned: installed into the
 * project's virtual environment (the emulator's, `.local/venv`) when missing, started on loopback
 * with a rules file, stopped by the PID we started. Nothing here talks to anything but 127.0.0.1.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as z from 'zod';
import { installEmulator, ROOT } from '../../localstack/cloud';

export const MICROBURST_VERSION = '0.10.0';
const VENV = path.join(ROOT, '.local', 'venv');
const BIN = path.join(VENV, 'bin', 'microburst');
export const CHAOS_DIR = path.join(ROOT, '.local', 'chaos');

/** Installs `microburst==0.10.0` into `.local/venv` unless that exact version is already there. */
export function installMicroburst(): void {
  installEmulator(); // the venv itself
  if (existsSync(BIN) && spawnSync(BIN, ['--version'], { encoding: 'utf8' }).stdout.includes(MICROBURST_VERSION)) return;
  console.log(`Installing microburst ${MICROBURST_VERSION} into .local/venv …`);
  const result = spawnSync(path.join(VENV, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', `microburst==${MICROBURST_VERSION}`], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`pip install microburst==${MICROBURST_VERSION} failed with exit code ${result.status}`);
}

/** One microburst rule, as far as we use its format (see the package README: "Rules"). */
export interface MicroburstRule {
  readonly id?: string;
  readonly service: string;
  readonly operation?: string;
  readonly resource?: string;
  readonly probability?: number;
  readonly times?: number;
  readonly error?: { readonly code: string; readonly status?: number; readonly message?: string };
  readonly latency?: number | { readonly min: number; readonly max: number } | { readonly dist: 'spike'; readonly min: number; readonly max: number; readonly spike_ms: number; readonly spike_p: number };
  readonly reset?: boolean;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const MetricLine = /^microburst_faults_total\{([^}]*)\}\s+([0-9.e+]+)$/;

export interface MicroburstFaultCount {
  readonly service: string;
  readonly operation: string;
  readonly action: string;
  readonly count: number;
}

export class Microburst {
  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
  ) {}

  /** Starts microburst on a free loopback port in front of `upstream`, with `rules` loaded at startup. */
  static async start(upstream: string, rules: readonly MicroburstRule[], name = 'microburst'): Promise<Microburst> {
    installMicroburst();
    mkdirSync(CHAOS_DIR, { recursive: true });
    const port = await freePort();
    const config = path.join(CHAOS_DIR, `${name}.json`);
    // YAML is a superset of JSON: the rules file is written as JSON.
    writeFileSync(config, JSON.stringify({ upstream, rules }, null, 2));
    const log = openSync(path.join(CHAOS_DIR, `${name}.log`), 'a');
    // --no-resign: the emulator does not check signatures; forward the SDK's request untouched.
    const child = spawn(BIN, ['--upstream', upstream, '--host', '127.0.0.1', '--port', String(port), '--config', config, '--no-resign'], { stdio: ['ignore', log, log], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? CHAOS_DIR } });
    closeSync(log);
    const mb = new Microburst(`http://127.0.0.1:${port}`, child);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`microburst exited with code ${child.exitCode}; see ${path.join(CHAOS_DIR, `${name}.log`)}`);
      try {
        if ((await fetch(`${mb.url}/_microburst/health`, { signal: AbortSignal.timeout(1000) })).ok) return mb;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) {
        await mb.stop();
        throw new Error('microburst did not become healthy within 20 s');
      }
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  }

  /** Replaces the whole rule set at runtime. */
  async setRules(rules: readonly MicroburstRule[]): Promise<void> {
    const response = await fetch(`${this.url}/_microburst/rules`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rules) });
    if (!response.ok) throw new Error(`microburst refused the rules: HTTP ${response.status} ${await response.text()}`);
  }

  /** Faults fired so far, from its Prometheus counters (`microburst_faults_total{service,operation,action}`). */
  async faults(): Promise<MicroburstFaultCount[]> {
    const text = await (await fetch(`${this.url}/_microburst/metrics`)).text();
    const counts: MicroburstFaultCount[] = [];
    for (const line of text.split('\n')) {
      const match = MetricLine.exec(line.trim());
      if (!match) continue;
      const labels = Object.fromEntries([...match[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
      const parsed = z.object({ service: z.string().default('?'), operation: z.string().default('?'), action: z.string().default('?') }).parse(labels);
      counts.push({ ...parsed, count: Number(match[2]) });
    }
    return counts;
  }

  /** Stops the process we started (by its PID) and waits for it to exit. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.pid === undefined) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    process.kill(this.child.pid, 'SIGTERM');
    const timer = setTimeout(() => this.child.pid !== undefined && this.child.exitCode === null && process.kill(this.child.pid, 'SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
