import type { LambdaClient } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { discoverDeadLetterQueues, type DeadLetterQueue } from '../../functions/toolkit/redrive';
import type { BoardRow } from './coffeeClient';

/** The `q`-quantile (0..1) of `values`, nearest rank; undefined for none. */
export function quantile(values: readonly number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export interface ShopStats {
  readonly placed: number;
  readonly open: number;
  readonly served: number;
  readonly cancelled: number;
  readonly overdue: number;
  /** Seconds from placed to served. */
  readonly p50?: number;
  readonly p95?: number;
}

/** What the board says, in numbers. */
export function shopStats(rows: readonly BoardRow[]): ShopStats {
  const waits = rows.filter((r) => r.servedAt && r.placedAt).map((r) => (Date.parse(r.servedAt!) - Date.parse(r.placedAt!)) / 1000);
  const p50 = quantile(waits, 0.5);
  const p95 = quantile(waits, 0.95);
  return {
    placed: rows.length,
    open: rows.filter((r) => r.status !== 'served' && r.status !== 'cancelled').length,
    served: rows.filter((r) => r.status === 'served').length,
    cancelled: rows.filter((r) => r.status === 'cancelled').length,
    overdue: rows.filter((r) => r.overdue && r.status !== 'served' && r.status !== 'cancelled').length,
    ...(p50 === undefined ? {} : { p50 }),
    ...(p95 === undefined ? {} : { p95 }),
  };
}

/**
 * The dead-letter queues of the reference system's stacks (`bin/app.ts`): the emulator may also hold
 * other deployments (the test stacks), whose dead letters are not the shop's.
 */
export async function appDeadLetterQueues(sqs: SQSClient, lambda: LambdaClient): Promise<DeadLetterQueue[]> {
  return (await discoverDeadLetterQueues(sqs, lambda)).filter((queue) => ['CoffeeShop', 'Wallet'].some((stack) => queue.name.startsWith(stack)));
}

/** Messages waiting in every dead-letter queue (approximate, as SQS counts them). */
export async function deadLetterDepth(sqs: SQSClient, queues: readonly DeadLetterQueue[]): Promise<number> {
  const depths = await Promise.all(
    queues.map(async (queue) => {
      const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
      return Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
    }),
  );
  return depths.reduce((sum, depth) => sum + depth, 0);
}

export const formatSeconds = (seconds: number | undefined): string => (seconds === undefined ? '–' : `${seconds.toFixed(1)} s`);
