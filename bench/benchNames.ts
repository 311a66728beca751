// Names shared by the bench stack, its functions and the runner (one spelling each).
import * as z from 'zod';

/** The bench app's one stack. */
export const BENCH_STACK = 'Bench';

/** The CloudEvents `source` of the bench outbox. */
export const BENCH_SOURCE = 'bench.load';
/** The one event type the bench commits. */
export const BENCH_EVENT_TYPE = 'bench.load.tick';
export const BenchEventSchema = z.object({ n: z.number().int().nonnegative(), phase: z.string().min(1).max(40) });

/** The measured paths: each records one item per event in the results table. */
export const PATHS = ['ours-ordered', 'ours-fanout', 'naive-ordered', 'naive-fanout', 'floor'] as const;
export type BenchPath = (typeof PATHS)[number];

export const BENCH_ENV = {
  resultsTable: 'BENCH_RESULTS_TABLE',
  path: 'BENCH_PATH',
} as const;

export const RecorderConfigSchema = z.object({
  [BENCH_ENV.resultsTable]: z.string().min(1),
  [BENCH_ENV.path]: z.enum(PATHS),
});

/**
 * Results table: per phase (the partition key, so the runner reads a phase with one Query), one item
 * per (path, event), sorted by path. A phase name starts with the run's id, so runs never mix.
 */
export const RESULT = {
  partitionKey: 'phase',
  sortKey: 'sk',
  itemKey: (path: BenchPath, eventId: string) => `${path}#${eventId}`,
} as const;

/** What a recorder writes per event (milliseconds since the epoch, the host's clock for both). */
export const ResultItemSchema = z.object({
  phase: z.string(),
  sk: z.string(),
  path: z.enum(PATHS),
  committedAt: z.number(),
  appliedAt: z.number(),
});
export type ResultItem = z.infer<typeof ResultItemSchema>;
