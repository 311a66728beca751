import type { EventEnvelope } from '../../toolkit/envelope';
import { ConcurrencyError, type AggregateChange } from '../../toolkit/outbox';
import type { BoardRows } from './BoardRows';
import { OverdueReportFailedError } from './errors';
import { evaluateProbe, orderOverdue, overdueKey, type OverdueOrder, type ProbeEvaluation, type ProbeOptions } from './probe';

/** What the probe needs of the transactional outbox (`Outbox` has it). */
export interface OverdueCommitter {
  commit(changes: readonly AggregateChange[]): Promise<EventEnvelope[]>;
}

/** Where the evaluation goes as metrics. */
export interface ProbeMetricsSink {
  publish(evaluation: ProbeEvaluation): void;
}

export interface ProbeReport extends ProbeEvaluation {
  readonly evaluatedAt: string;
  readonly thresholdSeconds: number;
  /** `coffee.order.overdue` events committed by this run. */
  readonly committed: { readonly orderId: string; readonly eventId: string }[];
  /** Overdue orders an earlier run already reported (the board had not caught up yet). */
  readonly alreadyReported: string[];
}

export interface RunProbeDependencies {
  readonly rows: BoardRows;
  readonly outbox: OverdueCommitter;
  readonly metrics: ProbeMetricsSink;
}

/** Commits running in parallel: enough to be quick on a bad day, few enough not to throttle a table. */
const PARALLEL_COMMITS = 8;

/**
 * One run of the business probe: reads the board, evaluates it, publishes the metrics and commits one
 * `coffee.order.overdue` per newly overdue order. Each order's report is its own transaction on the
 * key `OVERDUE#<orderId>` at version 0, so an order is reported once even if runs overlap or repeat.
 */
export async function runProbe(deps: RunProbeDependencies, now: Date, options: ProbeOptions): Promise<ProbeReport> {
  const evaluation = evaluateProbe(await deps.rows.list(), now, options);
  deps.metrics.publish(evaluation);

  const committed: ProbeReport['committed'] = [];
  const alreadyReported: string[] = [];
  const failures: { orderId: string; error: unknown }[] = [];
  const report = async (order: OverdueOrder): Promise<void> => {
    try {
      const [event] = await deps.outbox.commit([
        { id: order.orderId, key: overdueKey(order.orderId), expectedVersion: 0, state: { orderId: order.orderId, stage: order.stage, reportedAt: now.toISOString() }, events: [orderOverdue(order, options)] },
      ]);
      committed.push({ orderId: order.orderId, eventId: event!.id });
    } catch (error) {
      if (error instanceof ConcurrencyError) alreadyReported.push(order.orderId);
      else failures.push({ orderId: order.orderId, error });
    }
  };
  for (let start = 0; start < evaluation.overdue.length; start += PARALLEL_COMMITS) {
    await Promise.all(evaluation.overdue.slice(start, start + PARALLEL_COMMITS).map(report));
  }
  if (failures.length > 0) {
    throw new OverdueReportFailedError(failures.map((f) => f.orderId), { cause: failures[0]!.error });
  }
  return { ...evaluation, evaluatedAt: now.toISOString(), thresholdSeconds: options.overdueAfterSeconds, committed, alreadyReported };
}
