import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { backoffDelay, sleep, type BackoffPolicy } from '../retry/backoff';
import { readEventLog } from './readEventLog';

export interface ReplayOptions {
  readonly dynamodb: DynamoDBClient;
  readonly sqs: SQSClient;
  /** Outbox tables to read, one after the other. */
  readonly logs: readonly string[];
  /** The consumer's queue. FIFO (`….fifo`): group = partition key, deduplication id = event id. */
  readonly queueUrl: string;
  /** Only events of these types. @default every type */
  readonly types?: readonly string[];
  readonly onProgress?: (progress: ReplayProgress) => void;
  /** Retries of failed batch entries. @default 6 attempts, 100 ms–5 s, full jitter */
  readonly retry?: BackoffPolicy;
  /** Stops between two batches (Ctrl-C); running it again is safe. */
  readonly signal?: AbortSignal;
}

export interface ReplayProgress {
  /** Partition keys read so far. */
  readonly keys: number;
  /** Logged events read so far (of every type). */
  readonly events: number;
  /** Events sent to the queue so far. */
  readonly sent: number;
}

export type ReplayReport = ReplayProgress;

/** Some entries could still not be sent after every retry. Nothing is reported sent that was not. */
export class ReplayError extends Error {
  override name = 'ReplayError';
  constructor(
    message: string,
    readonly progress: ReplayProgress,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** SQS limits: 10 entries and 256 KiB per SendMessageBatch call. */
const MAX_ENTRIES = 10;
const MAX_BATCH_BYTES = 256 * 1024;
const DEFAULT_RETRY: BackoffPolicy = { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 5000 };

/**
 * Sends every logged event of `logs` to a consumer's queue, key by key in commit order, as the
 * relay would: the body is the stored envelope JSON. A late-joining consumer (a new read model)
 * catches up this way while live events keep arriving; it is safe to run again, or concurrently
 * with live traffic, because consumers absorb duplicates (projections by their watermarks, other
 * consumers by idempotency on the event id). On a FIFO queue a retried entry can land after later
 * entries of its key: consumers see it by its sequence (projections fill or skip by watermark).
 */
export async function replay(options: ReplayOptions): Promise<ReplayReport> {
  const fifo = options.queueUrl.endsWith('.fifo');
  const types = options.types?.length ? new Set(options.types) : undefined;
  const progress = { keys: 0, events: 0, sent: 0 };
  let batch: SendMessageBatchRequestEntry[] = [];
  let batchBytes = 0;

  const flush = async () => {
    if (batch.length === 0) return;
    await sendBatch(options, batch, progress);
    progress.sent += batch.length;
    batch = [];
    batchBytes = 0;
    options.onProgress?.({ ...progress });
    if (options.signal?.aborted) throw new ReplayError(`interrupted after sending ${progress.sent} event(s); run it again to finish (duplicates are absorbed)`, { ...progress });
  };

  for (const tableName of options.logs) {
    for await (const { partitionkey, events } of withTableName(tableName, readEventLog({ dynamodb: options.dynamodb, tableName }), progress)) {
      progress.keys++;
      progress.events += events.length;
      for (const { envelope, json } of events) {
        if (types && !types.has(envelope.type)) continue;
        const bytes = Buffer.byteLength(json);
        if (batch.length === MAX_ENTRIES || batchBytes + bytes > MAX_BATCH_BYTES) await flush();
        batch.push({
          Id: String(batch.length),
          MessageBody: json,
          ...(fifo ? { MessageGroupId: partitionkey, MessageDeduplicationId: envelope.id } : {}),
        });
        batchBytes += bytes;
      }
      options.onProgress?.({ ...progress });
    }
  }
  await flush();
  return { ...progress };
}

/** Names the table when it does not exist (a mistyped `--log`). */
async function* withTableName<T>(tableName: string, log: AsyncIterable<T>, progress: ReplayProgress): AsyncIterable<T> {
  try {
    yield* log;
  } catch (error) {
    if (error instanceof Error && error.name === 'ResourceNotFoundException') throw new ReplayError(`no table ${tableName} to read the log from`, { ...progress }, { cause: error });
    throw error;
  }
}

/** One batch, its failed entries retried with backoff; throws `ReplayError` if some never go. */
async function sendBatch(options: ReplayOptions, entries: SendMessageBatchRequestEntry[], progress: ReplayProgress): Promise<void> {
  const policy = options.retry ?? DEFAULT_RETRY;
  let pending = entries;
  let lastReasons: string[] = [];
  for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
    if (attempt > 1) await sleep(backoffDelay(policy, attempt - 1));
    try {
      const { Failed = [] } = await options.sqs.send(new SendMessageBatchCommand({ QueueUrl: options.queueUrl, Entries: pending }));
      // Sender faults (bad entries) will not succeed on a retry either.
      const senderFaults = Failed.filter((f) => f.SenderFault);
      if (senderFaults.length > 0) {
        throw new ReplayError(`the queue refused ${senderFaults.length} event(s): ${[...new Set(senderFaults.map((f) => f.Code))].join(', ')}`, { ...progress });
      }
      const failed = new Set(Failed.map((f) => f.Id));
      lastReasons = [...new Set(Failed.map((f) => f.Code ?? 'unknown'))];
      pending = pending.filter((entry) => failed.has(entry.Id));
    } catch (error) {
      if (error instanceof ReplayError) throw error;
      // The whole call failed (throttled, network): retry it whole. Entries that did go are resent; consumers absorb them.
      lastReasons = [error instanceof Error ? error.name : String(error)];
      if (attempt === policy.maxAttempts) throw new ReplayError(`could not send ${pending.length} event(s) after ${attempt} attempts: ${lastReasons.join(', ')}`, { ...progress }, { cause: error });
    }
    if (pending.length === 0) return;
  }
  throw new ReplayError(`could not send ${pending.length} event(s) after ${policy.maxAttempts} attempts: ${lastReasons.join(', ')}`, { ...progress });
}
