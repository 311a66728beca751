// The contract between the benchmark's core (bench/run.ts, bench/runBench.ts) and its report sections
// (bench/sections/*.ts): what a run measured, and what a section gives back for the report.

/** Calls (HTTP attempts, SDK retries included) and entries sent, per `Service.Operation`. */
export interface ApiCallCounts {
  [serviceOperation: string]: { calls: number; entries: number };
}

/** What one bench run measured for the two relays (ours and the naive one), on the same commits. */
export interface MeasuredRun {
  /** Events committed (each relay published every one of them). */
  events: number;
  /** The API calls of our relay function, for all `events`. */
  ours: ApiCallCounts;
  /** The API calls of the naive relay function, for all `events`. */
  naive: ApiCallCounts;
  /** Per relay: invocations, billed milliseconds (sum of REPORT lines) and configured memory. */
  lambda: { [path in 'ours' | 'naive']: { invocations: number; billedMs: number; memoryMb: number } };
}

/** One line of the report's targets table. */
export interface TargetRow {
  target: string;
  value: string;
  goal: string;
  met: boolean;
}

/** A section of bench/report.md: its heading, its body, and the targets it contributes. */
export interface ReportSection {
  title: string;
  markdown: string;
  targets: TargetRow[];
}
