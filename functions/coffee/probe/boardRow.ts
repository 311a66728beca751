import * as z from 'zod';

const Timestamp = z.iso.datetime({ offset: true });

/**
 * One row of the order board read model (the coffee-shop contract's `BoardRow`), as the probe reads
 * it: a tolerant reader that checks the fields the probe relies on and ignores the rest, so the board
 * may add fields without breaking the probe.
 */
export const ProbeRowSchema = z.object({
  orderId: z.string().min(1),
  status: z.enum(['queued', 'brewing', 'ready', 'served', 'cancelled']),
  placedAt: Timestamp.optional(),
  brewingAt: Timestamp.optional(),
  readyAt: Timestamp.optional(),
  servedAt: Timestamp.optional(),
  cancelledAt: Timestamp.optional(),
  /** Set by the board once it has seen `coffee.order.overdue`; a row without it was never flagged. */
  overdue: z.boolean().default(false),
});
export type ProbeRow = z.infer<typeof ProbeRowSchema>;
export type OrderStatus = ProbeRow['status'];

/** The stages an open order can wait in, in the order it passes them. */
export const PROBE_STAGES = ['queued', 'brewing', 'ready'] as const;
export type ProbeStage = (typeof PROBE_STAGES)[number];
