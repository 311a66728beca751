// What a bench run does (full or short), how the bench app is deployed, and the report sections.
import * as path from 'node:path';
import { ROOT } from '../localstack/cloud';
import { deployStacks } from '../localstack/deploy';
import { BENCH_STACK } from './benchNames';
import type { LoadPhase } from './load';
import { BenchOutputsSchema, type BenchOutputs } from './runBench';
import { bundleSection } from './sections/bundles';
import { costSection } from './sections/cost';
import { kmsSection } from './sections/kms';
import type { MeasuredRun, ReportSection } from './sections/types';

export interface BenchPlan {
  phases: LoadPhase[];
  floorEvents: number;
  floorRatePerSecond: number;
  reportFile: string;
  chartFile: string;
  kmsEvents: number;
  bundleSamples: number;
  commands: string;
}

/**
 * Full: ≥ 10,000 events over 100 keys at several offered loads, then an unpaced burst. Short (CI,
 * the cloud test): 250 events at one load; same report shape, in bench/report.short.md.
 */
export function benchPlan(short: boolean): BenchPlan {
  if (short) {
    return {
      phases: [{ name: 'load-25', events: 250, ratePerSecond: 25 }],
      floorEvents: 50,
      floorRatePerSecond: 25,
      reportFile: path.join(ROOT, 'bench', 'report.short.md'),
      chartFile: path.join(ROOT, 'bench', 'chart.short.svg'),
      kmsEvents: 150,
      bundleSamples: 1,
      commands: '`npm run local:start` (or any running MiniStack/LocalStack at AWS_ENDPOINT_URL), then `npm run bench -- --short`',
    };
  }
  return {
    phases: [
      { name: 'load-25', events: 2_000, ratePerSecond: 25 },
      { name: 'load-50', events: 3_000, ratePerSecond: 50 },
      { name: 'load-100', events: 3_000, ratePerSecond: 100 },
      { name: 'burst', events: 2_000 },
    ],
    floorEvents: 500,
    floorRatePerSecond: 25,
    reportFile: path.join(ROOT, 'bench', 'report.md'),
    chartFile: path.join(ROOT, 'bench', 'chart.svg'),
    kmsEvents: 2_000,
    bundleSamples: 5,
    commands: '`npm ci`, then `npm run bench` (starts the local cloud if none is running, deploys bench/app.ts, about 10 min on this machine)',
  };
}

/** Deploys the bench app (bench/app.ts) to the local cloud; returns its outputs. */
export async function deployBench(): Promise<BenchOutputs> {
  const outputs = await deployStacks({ app: 'npx tsx bench/app.ts', quiet: true });
  return BenchOutputsSchema.parse(outputs[BENCH_STACK]);
}

/** The sections of bench/sections, each of which may fail alone: the report then says why. */
export function reportSections(plan: BenchPlan): (run: MeasuredRun) => Promise<ReportSection[]> {
  const guarded = async (title: string, make: () => ReportSection | Promise<ReportSection>): Promise<ReportSection> => {
    try {
      return await make();
    } catch (error) {
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      return { title, markdown: `This section could not be measured in this run: ${reason.slice(0, 500)}`, targets: [{ target: title, value: 'not measured', goal: 'measured', met: false }] };
    }
  };
  return async (run) => [
    await guarded('Cost per million events', () => costSection(run)),
    await guarded('KMS calls per event', () => kmsSection({ events: plan.kmsEvents })),
    await guarded('Bundle size and cold init', () => bundleSection({ samples: plan.bundleSamples })),
  ];
}
