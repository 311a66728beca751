import * as z from 'zod';
import type { NewEvent } from '../../toolkit/outbox/planCommit';
import { PROBE_STAGES, type ProbeRow, type ProbeStage } from './boardRow';

export const ORDER_OVERDUE = 'coffee.order.overdue';

/** `coffee.order.overdue` v1 data. */
export const OrderOverdueSchema = z.object({
  orderId: z.string(),
  /** Where the order waits when the probe finds it. */
  stage: z.enum(PROBE_STAGES),
  placedAt: z.iso.datetime({ offset: true }),
  /** When its wait passed the threshold: `placedAt` + `thresholdSeconds`. */
  overdueAt: z.iso.datetime({ offset: true }),
  /** How long it had waited since it was placed when the probe found it. */
  waitingSeconds: z.number().int().nonnegative(),
  thresholdSeconds: z.number().int().positive(),
});
export type OrderOverdue = z.infer<typeof OrderOverdueSchema>;

export interface ProbeOptions {
  /** An open order that has waited longer than this since it was placed is overdue. */
  readonly overdueAfterSeconds: number;
}

export interface OverdueOrder {
  readonly orderId: string;
  readonly stage: ProbeStage;
  /** Seconds in its current stage. */
  readonly ageSeconds: number;
  /** Seconds since it was placed. */
  readonly waitingSeconds: number;
  readonly placedAt: string;
}

export interface StageAge {
  readonly count: number;
  /** The longest time an order of this stage has been in it; 0 when none is. */
  readonly maxSeconds: number;
}

export interface ProbeEvaluation {
  /** Open orders over the threshold that the board has not flagged yet: to report now. */
  readonly overdue: OverdueOrder[];
  /** Every open order over the threshold, flagged or not (the `OverdueOrders` metric). */
  readonly overdueOpen: number;
  readonly stageAges: Readonly<Record<ProbeStage, StageAge>>;
  /** Orders queued, brewing or ready. */
  readonly open: number;
  /** Open orders without any timestamp: counted as open, their age unknown. */
  readonly undated: string[];
}

const millisBetween = (from: string, to: Date): number => Math.max(0, to.getTime() - Date.parse(from));
const wholeSeconds = (millis: number): number => Math.floor(millis / 1000);

const isOpen = (row: ProbeRow): row is ProbeRow & { status: ProbeStage } => (PROBE_STAGES as readonly string[]).includes(row.status);

/**
 * Checks every order on the board against "served within `overdueAfterSeconds`". Pure: the rows and
 * the time arrive as inputs. Served and cancelled orders are never overdue; orders the board already
 * shows as overdue are counted but not reported again.
 */
export function evaluateProbe(rows: readonly ProbeRow[], now: Date, options: ProbeOptions): ProbeEvaluation {
  const stageAges = Object.fromEntries(PROBE_STAGES.map((stage) => [stage, { count: 0, maxSeconds: 0 }])) as Record<ProbeStage, StageAge>;
  const overdue: OverdueOrder[] = [];
  const undated: string[] = [];
  let open = 0;
  let overdueOpen = 0;
  for (const row of rows) {
    if (!isOpen(row)) continue;
    open += 1;
    const stage = row.status;
    // The board may have seen a later event before an earlier one (events of three services):
    // the earliest known time stands in for a missing one.
    const known = [row.placedAt, row.brewingAt, row.readyAt].filter((t): t is string => t !== undefined).sort((a, b) => Date.parse(a) - Date.parse(b));
    const placedAt = row.placedAt ?? known[0];
    const enteredAt = { queued: row.placedAt, brewing: row.brewingAt, ready: row.readyAt }[stage] ?? known.at(-1);
    if (placedAt === undefined || enteredAt === undefined) {
      undated.push(row.orderId);
      continue;
    }
    const ageSeconds = wholeSeconds(millisBetween(enteredAt, now));
    const waitingMillis = millisBetween(placedAt, now);
    const waitingSeconds = wholeSeconds(waitingMillis);
    const previous = stageAges[stage];
    stageAges[stage] = { count: previous.count + 1, maxSeconds: Math.max(previous.maxSeconds, ageSeconds) };
    // Compared to the millisecond: 300.5 s is over 5 minutes, though it reports as 300 s.
    if (waitingMillis <= options.overdueAfterSeconds * 1000) continue;
    overdueOpen += 1;
    if (!row.overdue) overdue.push({ orderId: row.orderId, stage, ageSeconds, waitingSeconds, placedAt });
  }
  return { overdue, overdueOpen, stageAges, open, undated };
}

/** The `coffee.order.overdue` event for an order the probe found overdue. */
export function orderOverdue(order: OverdueOrder, options: ProbeOptions): NewEvent<OrderOverdue> {
  const overdueAt = new Date(Date.parse(order.placedAt) + options.overdueAfterSeconds * 1000).toISOString();
  return {
    type: ORDER_OVERDUE,
    data: {
      orderId: order.orderId,
      stage: order.stage,
      placedAt: order.placedAt,
      overdueAt,
      waitingSeconds: order.waitingSeconds,
      thresholdSeconds: options.overdueAfterSeconds,
    },
  };
}

/** The probe's own record that an order was reported: one per order, so it is reported once. */
export const overdueKey = (orderId: string) => ({ pk: `OVERDUE#${orderId}`, sk: 'STATE' });
