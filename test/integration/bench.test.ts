/**
 * The benchmark's short mode (what `npm run bench -- --short` runs, without the CLI), so it cannot
 * rot: every event reaches every path, the relays' API calls are counted from their log lines, and
 * the report is written with all its sections. Behaviour only: never a time.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { endpointUrl } from '../../localstack/cloud';
import { benchPlan, deployBench, reportSections } from '../../bench/plan';
import { runBench } from '../../bench/runBench';
import { PATHS } from '../../bench/benchNames';

describe('npm run bench -- --short', () => {
  it('records every event on every path, counts the relays\' API calls, and writes the report with all sections', async () => {
    // Arrange
    const plan = benchPlan(true);
    for (const file of [plan.reportFile, plan.chartFile]) rmSync(file, { force: true });
    const outputs = await deployBench();

    // Act
    const result = await runBench(outputs, { ...plan, keys: 100, writers: 16, drainTimeoutMs: 240_000, endpoint: endpointUrl(), sections: reportSections(plan) });

    // Assert: every event recorded once by every path (the floor by its own).
    const events = plan.phases.reduce((sum, p) => sum + p.events, 0);
    expect(result.phases.every((p) => p.complete)).toBe(true);
    for (const phase of result.phases) {
      const paths = phase.name === 'floor' ? (['floor'] as const) : PATHS.filter((p) => p !== 'floor');
      for (const path of paths) expect(new Set(phase.items.filter((i) => i.path === path).map((i) => i.sk)).size, `${phase.name} ${path}`).toBe(phase.events);
    }
    // The relays' counts, parsed from their "aws api calls" lines: ours batches, the naive one does not.
    expect(result.measured.events).toBe(events);
    expect(result.apiCallLines.ours).toBeGreaterThan(0);
    expect(result.measured.ours['EventBridge.PutEvents']?.entries).toBeGreaterThanOrEqual(events);
    expect(result.measured.ours['SQS.SendMessageBatch']?.entries).toBeGreaterThanOrEqual(events);
    expect(result.measured.ours['SQS.SendMessage']).toBeUndefined();
    expect(result.measured.naive['EventBridge.PutEvents']?.calls).toBeGreaterThanOrEqual(events);
    expect(result.measured.naive['SQS.SendMessage']?.calls).toBeGreaterThanOrEqual(events);
    expect(result.measured.ours['EventBridge.PutEvents']!.calls).toBeLessThan(result.measured.naive['EventBridge.PutEvents']!.calls);
    expect(result.measured.lambda.ours.invocations).toBeGreaterThan(0);
    // The report and the chart, with every section.
    const report = readFileSync(plan.reportFile, 'utf8');
    expect(result.sections.map((s) => s.title)).toEqual(['Cost per million events', 'KMS calls per event', 'Bundle size and cold init']);
    for (const heading of ['Targets', 'API calls per event (relays)', 'Latency, commit → effect (ms)', 'Throughput', ...result.sections.map((s) => s.title)]) {
      expect(report).toContain(`\n## ${heading}\n`);
    }
    expect(existsSync(plan.chartFile) && readFileSync(plan.chartFile, 'utf8')).toContain('<svg');
  }, 900_000);
});
