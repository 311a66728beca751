/**
 * `npm run bench` (full, ~15 min: bench/report.md, bench/chart.svg) and `npm run bench -- --short`
 * (250 events: bench/report.short.md). Brings up the local cloud like the tests do, deploys the
 * bench app, runs the load with a progress display, writes the report and prints a summary.
 */
import { MultiBar, Presets } from 'cli-progress';
import { cloudEnv, ensureCloud, stopCloud } from '../localstack/cloud';
import { PATHS, type BenchPath } from './benchNames';
import { benchPlan, deployBench, reportSections } from './plan';
import { measuredTargets } from './report';
import { runBench, type BenchProgress } from './runBench';

const short = process.argv.includes('--short');
const plan = benchPlan(short);
const { endpoint, started } = await ensureCloud();
Object.assign(process.env, cloudEnv(endpoint));
console.log(`${started ? 'started' : 'using'} the local cloud at ${endpoint}; deploying the bench app…`);
const outputs = await deployBench();

const bars = new MultiBar({ format: '{label} [{bar}] {value}/{total} {note}', hideCursor: true, clearOnComplete: false }, Presets.shades_classic);
const stage = bars.create(1, 0, { label: 'phase        '.padEnd(14), note: '' });
const pathBars = Object.fromEntries(PATHS.map((p) => [p, bars.create(1, 0, { label: p.padEnd(14), note: '' })])) as Record<BenchPath, ReturnType<MultiBar['create']>>;
let currentPhase = '';
const onProgress = (p: BenchProgress) => {
  if (p.phase !== currentPhase && p.phase !== undefined) {
    currentPhase = p.phase;
    for (const bar of Object.values(pathBars)) bar.setTotal(Math.max(1, p.total));
  }
  stage.setTotal(Math.max(1, p.total));
  stage.update(p.committed, { label: (p.phase ?? '').padEnd(14), note: p.stage });
  for (const path of PATHS) {
    const applied = p.applied[path];
    if (applied !== undefined) pathBars[path].update(applied, { note: 'recorded' });
  }
};

const result = await runBench(outputs, { ...plan, keys: 100, writers: 16, drainTimeoutMs: short ? 180_000 : 300_000, endpoint, sections: reportSections(plan), onProgress });
bars.stop();

console.log(`\n${result.measured.events} events in ${Math.round(result.durationSeconds)} s; report: ${plan.reportFile}, chart: ${plan.chartFile}`);
for (const row of [...measuredTargets(result), ...result.sections.flatMap((s) => s.targets)]) {
  console.log(`  ${row.met ? 'met    ' : 'NOT MET'}  ${row.target}: ${row.value} (goal ${row.goal})`);
}
const floor = result.latency.floor?.floor;
for (const phase of result.phases.filter((p) => p.name !== 'floor')) {
  const l = result.latency[phase.name]!;
  console.log(`  ${phase.name}: p99 ours-ordered ${Math.round(l['ours-ordered'].p99)} ms, ours-fanout ${Math.round(l['ours-fanout'].p99)} ms, naive-ordered ${Math.round(l['naive-ordered'].p99)} ms (floor p99 ${Math.round(floor?.p99 ?? Number.NaN)} ms)`);
}
if (result.phases.some((p) => !p.complete)) process.exitCode = 1;
// Like npm test and npm start: a local cloud this run started is stopped (one already running is left alone).
if (started) {
  await stopCloud();
  console.log('stopped the local cloud this run started');
}
