// `npx tsx bench/smoke.ts [events]`: a tiny run of the core without the report sections (for working on the bench).
import * as path from 'node:path';
import { cloudEnv, endpointUrl, ROOT } from '../localstack/cloud';
import { deployBench } from './plan';
import { runBench } from './runBench';

Object.assign(process.env, cloudEnv());
const events = Number(process.argv[2] ?? 100);
const outputs = await deployBench();
const result = await runBench(outputs, {
  phases: [{ name: 'smoke', events, ratePerSecond: 25 }],
  floorEvents: Math.ceil(events / 5),
  floorRatePerSecond: 25,
  keys: 100,
  writers: 16,
  drainTimeoutMs: 120_000,
  reportFile: path.join(ROOT, '.local', 'bench-smoke.md'),
  chartFile: path.join(ROOT, '.local', 'bench-smoke.svg'),
  sections: async () => [],
  commands: 'npx tsx bench/smoke.ts',
  endpoint: endpointUrl(),
  onProgress: (p) => process.stdout.write(`\r${p.stage} ${p.phase ?? ''} ${p.committed}/${p.total} ${JSON.stringify(p.applied)}      `),
});
console.log('\n', JSON.stringify({ phases: result.phases.map((p) => ({ name: p.name, complete: p.complete, applied: p.applied, items: p.items.length, took: (p.end - p.start) / 1000 })), measured: result.measured, latency: result.latency }, null, 1));
