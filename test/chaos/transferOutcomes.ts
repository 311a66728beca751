/**
 * How the wallet's transfers ended, from the saga's own state (`GET /transfers/{id}`: `status` and
 * `failure { step, reason }`), and the invariants over it. A loaded system must complete transfers:
 * "compensated" is not "finished well" when the step only timed out (the 2026 full run: 677 of ~760
 * transfers compensated after a `reserve` timeout, and the old checker accepted them). Pure.
 */
import * as z from 'zod';
import type { InvariantResult } from './flow';

/** Above this share of transfers, compensations after a timeout are a violation. */
export const MAX_TIMED_OUT_COMPENSATION_SHARE = 0.05;

export const TransferView = z
  .object({
    status: z.string(),
    failure: z.object({ step: z.string(), reason: z.string() }).passthrough().optional(),
    waiting: z.object({ step: z.string(), phase: z.string(), attempt: z.number() }).passthrough().optional(),
  })
  .passthrough();
export type TransferView = z.infer<typeof TransferView>;

export const TRANSFER_OUTCOMES = ['completed', 'compensated after a refusal', 'compensated after a timeout', 'failed (needs an operator)', 'unfinished'] as const;
export type TransferOutcome = (typeof TRANSFER_OUTCOMES)[number];

/** One transfer's outcome. A compensated transfer without a known reason counts as timed out (the harsher reading). */
export function outcomeOf(view: TransferView | undefined): TransferOutcome {
  switch (view?.status) {
    case 'completed':
      return 'completed';
    case 'compensated':
      return view.failure?.reason === 'refused' ? 'compensated after a refusal' : 'compensated after a timeout';
    case 'failed':
      return 'failed (needs an operator)';
    default:
      return 'unfinished';
  }
}

export interface TransferRecord {
  readonly transferId: string;
  /** The saga's view, or undefined when it could not be read (HTTP error). */
  readonly view: TransferView | undefined;
}

/** Transfers per outcome, and each outcome's share of all of them (0–1). */
export function outcomeShares(transfers: readonly TransferRecord[]): Record<TransferOutcome, { count: number; share: number; sample: string[] }> {
  const shares = Object.fromEntries(TRANSFER_OUTCOMES.map((o) => [o, { count: 0, share: 0, sample: [] as string[] }])) as Record<TransferOutcome, { count: number; share: number; sample: string[] }>;
  for (const t of transfers) {
    const entry = shares[outcomeOf(t.view)];
    entry.count++;
    const waiting = t.view?.waiting ? ` at ${t.view.waiting.step} ${t.view.waiting.phase} #${t.view.waiting.attempt}` : '';
    if (entry.sample.length < 5) entry.sample.push(t.view?.failure ? `${t.transferId} (${t.view.failure.step} ${t.view.failure.reason}${waiting})` : `${t.transferId} (${t.view?.status ?? 'unreadable'}${waiting})`);
  }
  for (const entry of Object.values(shares)) entry.share = transfers.length === 0 ? 0 : entry.count / transfers.length;
  return shares;
}

const percent = (share: number) => `${(100 * share).toFixed(share > 0 && share < 0.1 ? 1 : 0)} %`;

/**
 * The transfer invariants: every transfer finished; none failed for an operator; compensations after
 * a timeout at most 5 % of transfers. The first row always carries the shares, as the report's line.
 */
export function transferInvariants(flow: string, transfers: readonly TransferRecord[]): InvariantResult[] {
  const shares = outcomeShares(transfers);
  const total = transfers.length;
  const summary = TRANSFER_OUTCOMES.filter((o) => o !== 'unfinished' || shares[o].count > 0).map((o) => `${o} ${shares[o].count} (${percent(shares[o].share)})`).join(', ');
  const unfinished = shares.unfinished;
  const failed = shares['failed (needs an operator)'];
  const timedOut = shares['compensated after a timeout'];
  const tooManyTimeouts = timedOut.share > MAX_TIMED_OUT_COMPENSATION_SHARE;
  return [
    { flow, invariant: 'transfers finished (completed, compensated or failed)', checked: total, violations: unfinished.count, detail: unfinished.count > 0 ? `${summary} | still: ${unfinished.sample.join(', ')}` : summary },
    { flow, invariant: 'no transfer failed for an operator', checked: total, violations: failed.count, ...(failed.count > 0 ? { detail: failed.sample.join(', ') } : {}) },
    {
      flow,
      invariant: `compensations after a timeout ≤ ${percent(MAX_TIMED_OUT_COMPENSATION_SHARE)} of transfers (a loaded system completes them)`,
      checked: total,
      violations: tooManyTimeouts ? timedOut.count : 0,
      ...(tooManyTimeouts ? { detail: `${timedOut.count} of ${total} (${percent(timedOut.share)}): ${timedOut.sample.join(', ')}` } : {}),
    },
  ];
}
