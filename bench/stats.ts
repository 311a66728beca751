// Pure arithmetic of the report: percentiles, throughput over time, API calls per event.
import type { ApiCallCounts } from './sections/types';

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of sorted values (`q` in 0..1). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

export function summarize(values: readonly number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((total, v) => total + v, 0);
  return {
    count: sorted.length,
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
  };
}

/** Events applied per second, second by second from `start` (ms) to the last one. */
export function perSecond(timestamps: readonly number[], start: number): number[] {
  const buckets: number[] = [];
  for (const t of timestamps) {
    const second = Math.max(0, Math.floor((t - start) / 1000));
    while (buckets.length <= second) buckets.push(0);
    buckets[second]! += 1;
  }
  return buckets;
}

/** Sustained throughput: events applied / (last applied − first committed), in events per second. */
export function throughput(committed: readonly number[], applied: readonly number[]): number {
  if (applied.length === 0) return 0;
  const first = Math.min(...committed);
  const last = Math.max(...applied);
  return applied.length / Math.max(0.001, (last - first) / 1000);
}

/** Calls (and entries) per event, per operation, and in total. */
export function perEvent(counts: ApiCallCounts, events: number): { key: string; calls: number; entries: number; callsPerEvent: number; entriesPerCall: number }[] {
  return Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, { calls, entries }]) => ({ key, calls, entries, callsPerEvent: events ? calls / events : Number.NaN, entriesPerCall: calls ? entries / calls : Number.NaN }));
}

/** Publishing calls of a relay: PutEvents and SQS SendMessage(Batch). */
export const PUBLISH_OPERATIONS = ['EventBridge.PutEvents', 'SQS.SendMessageBatch', 'SQS.SendMessage'] as const;

export function publishCallsPerEvent(counts: ApiCallCounts, events: number): number {
  const calls = PUBLISH_OPERATIONS.reduce((sum, key) => sum + (counts[key]?.calls ?? 0), 0);
  return events ? calls / events : Number.NaN;
}

/** Merges counts (e.g. of several phases). */
export function addCounts(into: ApiCallCounts, from: ApiCallCounts): ApiCallCounts {
  for (const [key, tally] of Object.entries(from)) {
    const sum = (into[key] ??= { calls: 0, entries: 0 });
    sum.calls += tally.calls;
    sum.entries += tally.entries;
  }
  return into;
}
