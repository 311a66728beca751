/**
 * `npm run chaos` (full: 10,000 events over 100 keys) and `npm run chaos -- --short` (300): the
 * chaos harness. Deploys the app to the local cloud, starts the fault chain
 *   function → our fault layer (faultLayer.ts) → microburst → the local cloud,
 * routes the flows' functions through it (and the crash hook into the relays), drives the flows,
 * restores every function exactly (also on failure and Ctrl-C), prints the faults injected and the
 * invariants checked, and exits 1 on any violation. Run it alone on the local cloud: it changes the
 * deployed functions' configuration while it runs (the tests take /tmp/cloud.lock around it).
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { ensureCloud } from '../../localstack/cloud';
import { deployStacks } from '../../localstack/deploy';
import { FaultLayer } from './faultLayer';
import { FAULT_KINDS, kindOfMicroburstAction, PROFILES, type FaultKind, type FaultProfile } from './faults';
import type { Flow, FlowContext, InvariantResult } from './flow';
import { CHAOS_DIR, Microburst } from './microburst';
import { applyRouting, restoreRouting } from './routing';
import { WalletFlow } from './walletFlow';
import { readFileSync } from 'node:fs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WORKER_HOOK = path.join(HERE, 'workerHook.cjs');
const CRASH_LOG = path.join(CHAOS_DIR, 'crashes.log');

export interface FaultRow {
  readonly kind: FaultKind;
  readonly source: 'microburst' | 'layer' | 'crash hook' | 'flow';
  readonly service: string;
  readonly operation: string;
  readonly count: number;
}

export interface ChaosReport {
  readonly profile: FaultProfile['name'];
  readonly flows: string[];
  readonly faults: FaultRow[];
  readonly invariants: InvariantResult[];
  readonly seconds: number;
}

/** The flows: the wallet's (here) and the coffee shop's (test/chaos/coffeeFlow.ts, when present). */
async function loadFlows(): Promise<Flow[]> {
  const flows: Flow[] = [new WalletFlow()];
  // Until the coffee flow lands (brief D), the harness runs the wallet flow alone.
  if (existsSync(path.join(HERE, 'coffeeFlow.ts'))) {
    const module = (await import(pathToFileURL(path.join(HERE, 'coffeeFlow.ts')).href)) as Record<string, unknown>;
    const flow = Object.values(module).find((v): v is Flow => typeof v === 'object' && v !== null && 'drive' in v && 'check' in v)
      ?? Object.values(module).flatMap((v) => (typeof v === 'function' ? [v] : [])).map((C) => { try { return new (C as new () => Flow)(); } catch { return undefined; } }).find((f): f is Flow => f !== undefined && typeof f.drive === 'function');
    if (flow) flows.push(flow);
  }
  return flows;
}

export interface RunOptions {
  readonly profile: FaultProfile;
  readonly deploy?: boolean;
  readonly log?: (line: string) => void;
  readonly onProgress?: (flow: string, submitted: number, total: number) => void;
  readonly signal?: AbortSignal;
}

/** The harness core (used by the CLI below and by test/integration/chaos.test.ts). */
export async function runChaos(options: RunOptions): Promise<ChaosReport> {
  const started = Date.now();
  const log = options.log ?? ((line: string) => console.log(line));
  const { endpoint } = await ensureCloud();
  const byStack = options.deploy === false ? JSON.parse(readFileSync(path.join(HERE, '..', '..', '.local', 'outputs.json'), 'utf8')) as Record<string, Record<string, string>> : await deployStacks({ quiet: true });
  const outputs: Record<string, string> = {};
  for (const [stack, values] of Object.entries(byStack)) for (const [key, value] of Object.entries(values)) Object.assign(outputs, { [key]: value, [`${stack}.${key}`]: value });
  const ctx: FlowContext = { outputs, endpoint, log };
  const flows = await loadFlows();
  for (const flow of flows) if ('prepare' in flow && typeof flow.prepare === 'function') await (flow.prepare as () => Promise<void>).call(flow);

  const lambda = new LambdaClient({});
  mkdirSync(CHAOS_DIR, { recursive: true });
  rmSync(CRASH_LOG, { force: true });
  const microburst = await Microburst.start(endpoint, options.profile.microburst);
  const layer = new FaultLayer(microburst.url, options.profile.layer);
  const restore = async () => {
    const restored = await restoreRouting(lambda);
    if (restored.length > 0) log(`restored ${restored.length} functions`);
  };
  const onSignal = () => void restore().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  try {
    const routes: { functionName: string; endpoint: string; env: Record<string, string> }[] = [];
    for (const flow of flows) {
      for (const functionName of flow.functions(ctx)) {
        const listener = await layer.listen();
        // Crashes only in the relays: their stream batch is retried at once, in order; a consumer's
        // message would wait out its queue's visibility timeout (minutes) before it is redelivered.
        const crash: Record<string, string> = /Relay/i.test(functionName)
          ? { CHAOS_CRASH_P: String(options.profile.crash.probability), CHAOS_CRASH_MAX: String(options.profile.crash.max), CHAOS_CRASH_LOG: CRASH_LOG }
          : {};
        routes.push({ functionName, endpoint: listener, env: { NODE_OPTIONS: `--require ${WORKER_HOOK}`, CHAOS_UPSTREAM: endpoint, CHAOS_REDIRECT: listener, ...crash } });
      }
    }
    await applyRouting(lambda, routes);
    log(`routed ${routes.length} functions through the fault chain (layer → microburst ${microburst.url} → ${endpoint})`);

    const perFlow = Math.floor(options.profile.events / flows.length);
    const poison = Math.ceil(options.profile.poison / flows.length);
    const flowPoison: number[] = [];
    const elapsed = () => `${Math.round((Date.now() - started) / 1000)} s`;
    await Promise.all(flows.map((flow) => flow.drive(ctx, { events: perFlow, keys: options.profile.keys, poison, onProgress: (n) => options.onProgress?.(flow.name, n, perFlow + poison) }).then(() => {
      flowPoison.push(poison);
      log(`${flow.name}: all events submitted at ${elapsed()}`);
    })));
    const invariants = (await Promise.all(flows.map((flow) => flow.check(ctx).then((results) => {
      log(`${flow.name}: settled and checked at ${elapsed()}`);
      return results;
    })))).flat();

    const faults: FaultRow[] = [];
    for (const f of await microburst.faults()) {
      const kind = kindOfMicroburstAction(f.action);
      if (kind) faults.push({ kind, source: 'microburst', service: f.service, operation: f.operation, count: f.count });
    }
    for (const f of layer.faults()) faults.push({ kind: f.kind, source: 'layer', service: f.service, operation: f.operation, count: f.count });
    const crashes = existsSync(CRASH_LOG) ? readFileSync(CRASH_LOG, 'utf8').split('\n').filter(Boolean) : [];
    const crashCounts = new Map<string, number>();
    for (const line of crashes) crashCounts.set(line.split(' ')[1] ?? '?', (crashCounts.get(line.split(' ')[1] ?? '?') ?? 0) + 1);
    for (const [operation, count] of crashCounts) faults.push({ kind: 'crash', source: 'crash hook', service: 'lambda', operation: `after ${operation}`, count });
    faults.push({ kind: 'poison', source: 'flow', service: 'sqs', operation: 'SendMessage', count: flowPoison.reduce((a, b) => a + b, 0) });
    for (const flow of flows) for (const f of flow.injected?.() ?? []) faults.push({ ...f, source: 'flow' });
    const late = layer.lateSagas();
    if (late.delayedCommands.length + late.heldAnswers.length > 0) log(`late answers: commands delayed for ${late.delayedCommands.join(', ') || 'none'}; answers held for ${late.heldAnswers.join(', ') || 'none'}`);
    return { profile: options.profile.name, flows: flows.map((f) => f.name), faults: merged(faults), invariants, seconds: Math.round((Date.now() - started) / 1000) };
  } finally {
    process.off('SIGINT', onSignal);
    await restore();
    await layer.close();
    await microburst.stop();
  }
}

/** One row per kind, source, service and operation (microburst reports latency per value). */
function merged(rows: readonly FaultRow[]): FaultRow[] {
  const byKey = new Map<string, FaultRow>();
  for (const row of rows) {
    const key = [row.kind, row.source, row.service, row.operation].join('|');
    const seen = byKey.get(key);
    byKey.set(key, seen ? { ...seen, count: seen.count + row.count } : row);
  }
  return [...byKey.values()];
}

/** Faults injected per kind (for the table and the test). */
export function faultsByKind(report: ChaosReport): Record<FaultKind, number> {
  const totals = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  for (const f of report.faults) totals[f.kind] += f.count;
  return totals;
}

export function formatReport(report: ChaosReport): string {
  const width = (values: string[], min: number) => Math.max(min, ...values.map((v) => v.length));
  const [kindW, sourceW, serviceW, operationW] = [width(report.faults.map((f) => f.kind), 4), width(report.faults.map((f) => f.source), 6), width(report.faults.map((f) => f.service), 7), width(report.faults.map((f) => f.operation), 9)];
  const lines = [`chaos (${report.profile}): flows ${report.flows.join(', ')} in ${report.seconds} s`, '', 'Faults injected', `${'kind'.padEnd(kindW)} ${'source'.padEnd(sourceW)} ${'service'.padEnd(serviceW)} ${'operation'.padEnd(operationW)} count`];
  for (const f of [...report.faults].sort((a, b) => a.kind.localeCompare(b.kind) || b.count - a.count)) {
    lines.push(`${f.kind.padEnd(kindW)} ${f.source.padEnd(sourceW)} ${f.service.padEnd(serviceW)} ${f.operation.padEnd(operationW)} ${String(f.count).padStart(5)}`);
  }
  lines.push('', 'Invariants', 'flow     checked  violations  invariant');
  for (const r of report.invariants) lines.push(`${r.flow.padEnd(8)} ${String(r.checked).padStart(7)}  ${String(r.violations).padStart(10)}  ${r.invariant}${r.detail ? ` — ${r.detail}` : ''}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const profile = PROFILES[process.argv.includes('--short') ? 'short' : 'full'];
  const { MultiBar, Presets } = await import('cli-progress');
  // A terminal gets live bars; a pipe or CI log gets a line every 10 %.
  const tty = process.stderr.isTTY === true;
  const bars = new MultiBar({ format: '{flow} [{bar}] {value}/{total} events submitted', hideCursor: true, clearOnComplete: false }, Presets.shades_classic);
  const byFlow = new Map<string, ReturnType<typeof bars.create>>();
  const lastDecile = new Map<string, number>();
  const report = await runChaos({
    profile,
    log: (line) => (tty ? bars.log(`${line}\n`) : console.log(line)),
    onProgress: (flow, submitted, total) => {
      if (!tty) {
        const decile = Math.floor((10 * submitted) / total);
        if (decile > (lastDecile.get(flow) ?? -1)) console.log(`${flow}: ${submitted}/${total} events submitted`);
        lastDecile.set(flow, decile);
        return;
      }
      if (!byFlow.has(flow)) byFlow.set(flow, bars.create(total, 0, { flow: flow.padEnd(7) }));
      byFlow.get(flow)!.update(submitted, { flow: flow.padEnd(7) });
    },
  });
  bars.stop();
  console.log(formatReport(report));
  const violations = report.invariants.reduce((sum, r) => sum + r.violations, 0);
  if (violations > 0) {
    console.error(`\n${violations} invariant violation(s)`);
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
