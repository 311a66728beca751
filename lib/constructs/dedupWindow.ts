import { Duration } from 'aws-cdk-lib';

/**
 * Every window in which a message can reach a consumer again after it was applied, and so how long
 * the consumer's dedup records (inbox items, Powertools records) must be kept. A record that expires
 * earlier lets a late copy be applied twice.
 *
 * | window | length | why a copy can come back |
 * |---|---|---|
 * | upstream redelivery | 1 day | the relay republishes while the DynamoDB stream keeps the record (24 h); the bus retries a rule target for up to 24 h |
 * | the consumer's queue | its retention (4 days) | a copy can wait there, and be retried, until it expires |
 * | the consumer's DLQ | its retention (14 days) | a failed copy waits there for the operator |
 * | redrive allowance | 1 day | a redriven copy is retried with backoff after it is sent back |
 * | a replayable log | the outbox's retention, or forever | `ops replay` / `ops republish` send logged events again |
 * | FIFO deduplication | 5 minutes | SQS drops a repeated deduplication id itself: inside every window above, never enough alone |
 */
export interface DedupWindowInputs {
  readonly queueRetention: Duration;
  readonly deadLetterRetention: Duration;
  /** The event logs (outboxes) the consumer may receive events of again: their retention, or `forever`. */
  readonly logs: ReadonlyArray<{ readonly name: string; readonly retention: Duration | 'forever' }>;
}

/** The relay's stream (24 h) and the bus's rule-target retries (24 h). */
export const UPSTREAM_REDELIVERY = Duration.days(1);
/** After a redrive, the time a copy may take to be applied (retries with backoff included). */
export const REDRIVE_ALLOWANCE = Duration.days(1);

export interface RequiredDedupWindow {
  /** Seconds, or `forever`. */
  readonly window: number | 'forever';
  /** The terms, for an error message. */
  readonly why: string;
}

const days = (seconds: number) => `${+(seconds / 86_400).toFixed(2)} day${seconds === 86_400 ? '' : 's'}`;

/** How long a consumer's dedup records must be kept: the longest window a copy can come back in. Pure. */
export function requiredDedupWindow(inputs: DedupWindowInputs): RequiredDedupWindow {
  const queue = inputs.queueRetention.toSeconds();
  const dlq = inputs.deadLetterRetention.toSeconds();
  const redelivery = UPSTREAM_REDELIVERY.toSeconds() + queue + dlq + REDRIVE_ALLOWANCE.toSeconds();
  const forever = inputs.logs.find((log) => log.retention === 'forever');
  if (forever) return { window: 'forever', why: `the log ${forever.name} keeps its events for good and can replay them` };
  const longestLog = inputs.logs.reduce<{ name: string; seconds: number } | undefined>((longest, log) => {
    const seconds = (log.retention as Duration).toSeconds();
    return longest === undefined || seconds > longest.seconds ? { name: log.name, seconds } : longest;
  }, undefined);
  const why = `upstream redelivery ${days(UPSTREAM_REDELIVERY.toSeconds())} + queue retention ${days(queue)} + dead-letter retention ${days(dlq)} + redrive allowance ${days(REDRIVE_ALLOWANCE.toSeconds())} = ${days(redelivery)}`;
  if (longestLog && longestLog.seconds > redelivery) return { window: longestLog.seconds, why: `the log ${longestLog.name} keeps its events ${days(longestLog.seconds)} and can replay them (${why})` };
  return { window: redelivery, why };
}

/** A problem when `given` is shorter than `required`; undefined when it is long enough. */
export function dedupWindowProblem(given: Duration | 'forever', required: RequiredDedupWindow): string | undefined {
  if (given === 'forever' || required.window !== 'forever' && given.toSeconds() >= required.window) return undefined;
  const want = required.window === 'forever' ? 'forever' : days(required.window);
  return `\`dedupWindow\` (${days(given.toSeconds())}) is shorter than the time a message can come back (${want}: ${required.why}): a late copy would be applied twice`;
}
