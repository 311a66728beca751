/**
 * The benchmark's core (what `npm run bench` and the short test run): commits load through the
 * toolkit's outbox at several offered loads, waits until every path recorded every event, measures
 * the emulator's floor in the same run, reads the relays' API calls and REPORT lines from CloudWatch
 * Logs, and writes the report and the chart.
 */
import { writeFileSync } from 'node:fs';
import { DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import * as z from 'zod';
import { Outbox } from '../functions/toolkit/outbox';
import { BENCH_SOURCE, PATHS, RESULT, ResultItemSchema, type BenchPath } from './benchNames';
import { CloudWatchLogsReader, sumApiCalls, sumReports, type LogEvent } from './cloudWatchLogs';
import { LoadWriter, writeFloor, type LoadPhase } from './load';
import { buildReport, type PhaseResult, type RunResult } from './report';
import type { ApiCallCounts, MeasuredRun, ReportSection } from './sections/types';
import { summarize, type LatencySummary } from './stats';

export const BenchOutputsSchema = z.object({
  OutboxTableName: z.string().min(1),
  ResultsTableName: z.string().min(1),
  FloorTableName: z.string().min(1),
  OursRelayLogGroup: z.string().min(1),
  NaiveRelayLogGroup: z.string().min(1),
  // Optional: the emulator does not report outputs added by a stack update (delete the Bench stack
  // to get them); without them the report leaves out the consumers' calls.
  OursOrderedLogGroup: z.string().min(1).optional(),
  OursFanoutLogGroup: z.string().min(1).optional(),
  NaiveOrderedLogGroup: z.string().min(1).optional(),
  NaiveFanoutLogGroup: z.string().min(1).optional(),
});
export type BenchOutputs = z.infer<typeof BenchOutputsSchema>;

export interface BenchProgress {
  stage: string;
  phase?: string;
  committed: number;
  total: number;
  applied: Partial<Record<BenchPath, number>>;
}

export interface BenchOptions {
  readonly phases: readonly LoadPhase[];
  /** Items through the floor path, at `floorRatePerSecond`. */
  readonly floorEvents: number;
  readonly floorRatePerSecond: number;
  readonly keys: number;
  readonly writers: number;
  /** Per phase: how long to wait for every path to record every event. */
  readonly drainTimeoutMs: number;
  readonly reportFile: string;
  readonly chartFile: string;
  /** The report sections of bench/sections (cost, KMS, bundles), given the measured run. */
  readonly sections: (run: MeasuredRun) => Promise<ReportSection[]>;
  readonly commands: string;
  readonly endpoint: string;
  readonly onProgress?: (progress: BenchProgress) => void;
}

const MEASURED_PATHS = PATHS.filter((p) => p !== 'floor');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads a phase's result items. */
async function readPhase(client: DynamoDBClient, tableName: string, phaseId: string): Promise<z.infer<typeof ResultItemSchema>[]> {
  const items: z.infer<typeof ResultItemSchema>[] = [];
  let exclusiveStartKey: QueryCommand['input']['ExclusiveStartKey'];
  do {
    const page = await client.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: '#phase = :phase',
        ExpressionAttributeNames: { '#phase': RESULT.partitionKey },
        ExpressionAttributeValues: { ':phase': { S: phaseId } },
        ...(exclusiveStartKey ? { ExclusiveStartKey: exclusiveStartKey } : {}),
      }),
    );
    for (const raw of page.Items ?? []) items.push(ResultItemSchema.parse(unmarshall(raw)));
    exclusiveStartKey = page.LastEvaluatedKey;
  } while (exclusiveStartKey);
  return items;
}

/** How many events `path` recorded in the phase (a COUNT query on the path's items, all pages). */
async function countRecorded(client: DynamoDBClient, tableName: string, phaseId: string, path: BenchPath): Promise<number> {
  let count = 0;
  let exclusiveStartKey: QueryCommand['input']['ExclusiveStartKey'];
  do {
    const page = await client.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: '#phase = :phase AND begins_with(#sk, :path)',
        ExpressionAttributeNames: { '#phase': RESULT.partitionKey, '#sk': RESULT.sortKey },
        ExpressionAttributeValues: { ':phase': { S: phaseId }, ':path': { S: RESULT.itemKey(path, '') } },
        Select: 'COUNT',
        ConsistentRead: true,
        ...(exclusiveStartKey ? { ExclusiveStartKey: exclusiveStartKey } : {}),
      }),
    );
    count += page.Count ?? 0;
    exclusiveStartKey = page.LastEvaluatedKey;
  } while (exclusiveStartKey);
  return count;
}

/** Polls the phase's counts until every path has recorded `events` (or the time is up). */
async function waitForPhase(
  client: DynamoDBClient,
  tableName: string,
  phaseId: string,
  events: number,
  paths: readonly BenchPath[],
  timeoutMs: number,
  onPoll: (applied: Partial<Record<BenchPath, number>>) => void,
): Promise<{ complete: boolean; applied: Partial<Record<BenchPath, number>> }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const applied: Partial<Record<BenchPath, number>> = {};
    for (const path of paths) applied[path] = await countRecorded(client, tableName, phaseId, path);
    onPoll(applied);
    if (paths.every((p) => (applied[p] ?? 0) >= events)) return { complete: true, applied };
    if (Date.now() > deadline) return { complete: false, applied };
    await sleep(1000);
  }
}

function latencyByPath(phase: PhaseResult): Record<BenchPath, LatencySummary> {
  const of = (path: BenchPath) => summarize(phase.items.filter((i) => i.path === path).map((i) => i.appliedAt - i.committedAt));
  return { 'ours-ordered': of('ours-ordered'), 'ours-fanout': of('ours-fanout'), 'naive-ordered': of('naive-ordered'), 'naive-fanout': of('naive-fanout'), floor: of('floor') };
}

/** Runs the whole benchmark against a deployed bench stack; writes the report and the chart. */
export async function runBench(outputs: BenchOutputs, options: BenchOptions): Promise<RunResult> {
  const dynamodb = new DynamoDBClient({});
  const runId = Date.now().toString(36);
  const runStart = Date.now();
  const progress = (p: BenchProgress) => options.onProgress?.(p);
  const outbox = new Outbox({ client: dynamodb, tableName: outputs.OutboxTableName, source: BENCH_SOURCE, retentionSeconds: 24 * 3600 });
  const writer = new LoadWriter(outbox, runId, options.keys);
  const phases: PhaseResult[] = [];

  // The floor first, on an idle emulator at the first offered load: the round trip nothing can beat.
  const floorId = `${runId}-floor`;
  let floorCommitted = 0;
  const floorStart = Date.now();
  await writeFloor(dynamodb, outputs.FloorTableName, floorId, options.floorEvents, {
    ratePerSecond: options.floorRatePerSecond,
    concurrency: options.writers,
    onCommitted: () => progress({ stage: 'floor', phase: 'floor', committed: ++floorCommitted, total: options.floorEvents, applied: {} }),
  });
  const floorCommitEnd = Date.now();
  const floorDrain = await waitForPhase(dynamodb, outputs.ResultsTableName, floorId, options.floorEvents, ['floor'], options.drainTimeoutMs, (applied) =>
    progress({ stage: 'floor: waiting', phase: 'floor', committed: floorCommitted, total: options.floorEvents, applied }),
  );
  phases.push({ name: 'floor', id: floorId, offered: options.floorRatePerSecond, events: options.floorEvents, start: floorStart, commitEnd: floorCommitEnd, end: Date.now(), complete: floorDrain.complete, applied: floorDrain.applied, items: [] });

  for (const phase of options.phases) {
    const phaseId = `${runId}-${phase.name}`;
    let committed = 0;
    let applied: Partial<Record<BenchPath, number>> = {};
    const start = Date.now();
    // While the writers commit, the paths' counts are polled for the progress display.
    let committing = true;
    let commitEnd = start;
    const poller = (async () => {
      while (committing) {
        await sleep(2000);
        applied = Object.fromEntries(await Promise.all(MEASURED_PATHS.map(async (path) => [path, await countRecorded(dynamodb, outputs.ResultsTableName, phaseId, path)] as const)));
        progress({ stage: 'commit', phase: phase.name, committed, total: phase.events, applied });
      }
    })();
    try {
      await writer.run(phase, phaseId, {
        concurrency: options.writers,
        onCommitted: () => progress({ stage: 'commit', phase: phase.name, committed: ++committed, total: phase.events, applied }),
      });
      commitEnd = Date.now();
    } finally {
      committing = false;
      await poller;
    }
    const drain = await waitForPhase(dynamodb, outputs.ResultsTableName, phaseId, phase.events, MEASURED_PATHS, options.drainTimeoutMs, (applied) =>
      progress({ stage: 'waiting for every path', phase: phase.name, committed, total: phase.events, applied }),
    );
    phases.push({ name: phase.name, id: phaseId, offered: phase.ratePerSecond, events: phase.events, start, commitEnd, end: Date.now(), complete: drain.complete, applied: drain.applied, items: [] });
  }

  progress({ stage: 'reading results and logs', committed: 0, total: 0, applied: {} });
  for (const phase of phases) phase.items = await readPhase(dynamodb, outputs.ResultsTableName, phase.id);

  // The functions' log lines (the emulator writes them as the invocation ends; give it a moment).
  await sleep(2000);
  const runEnd = Date.now();
  const logs = new CloudWatchLogsReader({
    endpoint: options.endpoint,
    region: process.env.AWS_REGION ?? 'us-east-1',
    accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'test',
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'test',
  });
  const relayLogs: Record<'ours' | 'naive', { calls: LogEvent[]; reports: LogEvent[] }> = {
    ours: { calls: await logs.filter(outputs.OursRelayLogGroup, '"aws api calls"', runStart, runEnd), reports: await logs.filter(outputs.OursRelayLogGroup, 'REPORT', runStart, runEnd) },
    naive: { calls: await logs.filter(outputs.NaiveRelayLogGroup, '"aws api calls"', runStart, runEnd), reports: await logs.filter(outputs.NaiveRelayLogGroup, 'REPORT', runStart, runEnd) },
  };
  const consumerGroups = { 'ours-ordered': outputs.OursOrderedLogGroup, 'ours-fanout': outputs.OursFanoutLogGroup, 'naive-ordered': outputs.NaiveOrderedLogGroup, 'naive-fanout': outputs.NaiveFanoutLogGroup };
  const consumerCalls: Partial<Record<BenchPath, ApiCallCounts>> = {};
  for (const [path, group] of Object.entries(consumerGroups)) {
    if (group) consumerCalls[path as BenchPath] = sumApiCalls(await logs.filter(group, '"aws api calls"', runStart, runEnd)).counts;
  }
  const loadPhases = phases.filter((p) => p.name !== 'floor');
  const events = loadPhases.reduce((sum, p) => sum + p.events, 0);
  const perPhaseCalls = (relay: 'ours' | 'naive') =>
    Object.fromEntries(loadPhases.map((p, i) => [p.name, sumApiCalls(relayLogs[relay].calls.filter((e) => e.timestamp >= p.start && e.timestamp < (loadPhases[i + 1]?.start ?? runEnd + 1))).counts])) as Record<string, ApiCallCounts>;
  const ours = sumApiCalls(relayLogs.ours.calls);
  const naive = sumApiCalls(relayLogs.naive.calls);
  const measured: MeasuredRun = {
    events,
    ours: ours.counts,
    naive: naive.counts,
    lambda: { ours: sumReports(relayLogs.ours.reports), naive: sumReports(relayLogs.naive.reports) },
  };

  progress({ stage: 'report sections (cost, KMS, bundles)', committed: 0, total: 0, applied: {} });
  const sections = await options.sections(measured);
  const result: RunResult = {
    runId,
    startedAt: new Date(runStart),
    durationSeconds: (Date.now() - runStart) / 1000,
    phases,
    measured,
    apiCallLines: { ours: ours.lines, naive: naive.lines },
    consumerCalls,
    perPhaseCalls: { ours: perPhaseCalls('ours'), naive: perPhaseCalls('naive') },
    latency: Object.fromEntries(phases.map((p) => [p.name, latencyByPath(p)])),
    sections,
  };
  const { markdown, svg } = buildReport(result, { commands: options.commands, chartFile: options.chartFile });
  writeFileSync(options.reportFile, markdown);
  writeFileSync(options.chartFile, svg);
  return result;
}
