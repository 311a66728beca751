import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord, AttributeValue as LambdaAttributeValue } from 'aws-lambda';
import * as z from 'zod';
import { OUTBOX } from '../outbox/outboxItem';
import { outboxItemsOf, outboxPartitionKeys } from '../replay/readEventLog';
import type { FailedStreamBatch, StreamBatchReader } from './ports';
import { relayBatch, type RelayDependencies, type RelayRecord } from './relayBatch';
import { toRelayRecord } from './toRelayRecord';

/** AWS's on-failure record of a stream event-source mapping (only what republishing needs). */
const OnFailureRecordSchema = z.object({
  DDBStreamBatchInfo: z.object({
    shardId: z.string().min(1),
    startSequenceNumber: z.string().regex(/^\d+$/),
    endSequenceNumber: z.string().regex(/^\d+$/),
    streamArn: z.string().min(1),
    batchSize: z.number().int().optional(),
  }),
});

/** The relay's own dead letters (`PoisonRecord`): a record it dead-lettered, by keys and reason. */
const RelayDeadLetterSchema = z.object({ sequenceNumber: z.string(), errorName: z.string(), reason: z.string(), keys: z.record(z.string(), z.string()) });

export interface RepublishOptions {
  readonly sqs: SQSClient;
  readonly dynamodb: DynamoDBClient;
  /** The relay's dead-letter queue (the mapping's on-failure destination). */
  readonly deadLetterQueueUrl: string;
  /** The outbox table (the log). */
  readonly tableName: string;
  /** The relay's dependencies, as its function has them: same targets, same cursors. */
  readonly relay: RelayDependencies;
  readonly streams: StreamBatchReader;
  /**
   * Reconcile the whole log even if no batch needs it: every stream of every key above its cursor,
   * e.g. after an item missing from a stream was restored (point-in-time recovery).
   * @default false
   */
  readonly reconcileWholeLog?: boolean;
  /** How long received messages stay hidden from others while this runs. @default 300 */
  readonly visibilityTimeoutSeconds?: number;
  readonly onProgress?: (step: string) => void;
}

/** A dead letter left in the queue, and why. */
export interface LeftMessage {
  readonly messageId: string;
  readonly kind: 'relay-dead-letter' | 'unrecognised' | 'not-republished';
  /** Ids and reasons only: the error name and outbox keys of a relay dead letter, or what failed. */
  readonly detail: string;
}

export interface RepublishReport {
  /** On-failure records found (stream batches that exhausted the mapping's retries). */
  readonly failedBatches: number;
  /** Of those, how many were resolved to their partition keys from the stream's records. */
  readonly resolvedFromStream: number;
  /** Whether the whole log was reconciled (some batch could not be read from the stream any more). */
  readonly reconciledWholeLog: boolean;
  /** Partition keys whose streams were republished above their cursors. */
  readonly keys: number;
  /** Per target, events accepted. */
  readonly delivered: Readonly<Record<string, number>>;
  /** Dead letters deleted: the on-failure records handled. */
  readonly deleted: number;
  readonly left: readonly LeftMessage[];
}

/**
 * `npm run ops -- republish <relay dlq>`: a stream batch that exhausted the relay mapping's retries
 * reaches the relay's dead-letter queue as metadata only (AWS's `DDBStreamBatchInfo`: shard, first
 * and last sequence number, stream). Its events are in the outbox; its stream's later events may be
 * too, stranded behind it if nothing else of that stream came since. This re-sends them through the
 * relay's own core and cursors, so in sequence order, never past a gap and never again what the
 * cursors say was published:
 *
 * - the batch's partition keys are read from its stream records while the stream still holds them
 *   (24 h); then every stream (subject) of those keys is relayed from the log above its cursor;
 * - when the records cannot be read any more, the whole log is reconciled instead: every stream of
 *   every partition key above its cursor (a Scan of the keys, one Query per key);
 * - an on-failure record is deleted only once every stream it concerns was relayed; the relay's own
 *   dead letters (poison and records held behind a gap, keys only) are left for the operator and
 *   reported. Safe to run again: the cursors make a second run publish nothing new.
 */
export async function republish(options: RepublishOptions): Promise<RepublishReport> {
  const messages = await receiveAll(options);
  const batches: Array<{ message: Message; batch: FailedStreamBatch }> = [];
  const left: LeftMessage[] = [];
  for (const message of messages) {
    const body = parseJson(message.Body);
    const failure = OnFailureRecordSchema.safeParse(body);
    if (failure.success) {
      batches.push({ message, batch: failure.data.DDBStreamBatchInfo });
      continue;
    }
    const deadLetter = RelayDeadLetterSchema.safeParse(body);
    left.push(
      deadLetter.success
        ? { messageId: message.MessageId ?? '', kind: 'relay-dead-letter', detail: `${deadLetter.data.errorName} ${JSON.stringify(deadLetter.data.keys)}` }
        : { messageId: message.MessageId ?? '', kind: 'unrecognised', detail: 'neither an on-failure record nor a relay dead letter' },
    );
  }
  batches.sort((a, b) => compareBatches(a.batch, b.batch));

  const delivered: Record<string, number> = {};
  const relayed = new Map<string, string | undefined>(); // partition key → error, once relayed
  const relayKey = async (partitionkey: string): Promise<string | undefined> => {
    if (relayed.has(partitionkey)) return relayed.get(partitionkey);
    options.onProgress?.(`relaying ${partitionkey}`);
    const error = await relayPartitionKey(options, partitionkey, delivered);
    relayed.set(partitionkey, error);
    return error;
  };

  const unresolved: typeof batches = [];
  let resolvedFromStream = 0;
  const done: Message[] = [];
  for (const entry of batches) {
    let keys: string[];
    try {
      keys = partitionKeysOf(await options.streams.read(entry.batch));
    } catch {
      unresolved.push(entry);
      continue;
    }
    resolvedFromStream++;
    const errors = (await Promise.all(keys.map(relayKey))).filter((e): e is string => e !== undefined);
    if (errors.length === 0) done.push(entry.message);
    else left.push({ messageId: entry.message.MessageId ?? '', kind: 'not-republished', detail: errors.join('; ') });
  }

  if (unresolved.length > 0 || options.reconcileWholeLog) {
    options.onProgress?.('reconciling the whole log');
    const errors: string[] = [];
    for await (const partitionkey of outboxPartitionKeys(options.dynamodb, options.tableName)) {
      const error = await relayKey(partitionkey);
      if (error !== undefined) errors.push(error);
    }
    for (const { message } of unresolved) {
      if (errors.length === 0) done.push(message);
      else left.push({ messageId: message.MessageId ?? '', kind: 'not-republished', detail: errors.slice(0, 3).join('; ') });
    }
  }

  for (const message of done) await options.sqs.send(new DeleteMessageCommand({ QueueUrl: options.deadLetterQueueUrl, ReceiptHandle: message.ReceiptHandle! }));
  const leftIds = new Set(left.map((l) => l.messageId));
  for (const message of messages.filter((m) => leftIds.has(m.MessageId ?? ''))) {
    // Back to the queue as found, for the operator (or the next run).
    await options.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: options.deadLetterQueueUrl, ReceiptHandle: message.ReceiptHandle!, VisibilityTimeout: 0 }));
  }
  return {
    failedBatches: batches.length,
    resolvedFromStream,
    reconciledWholeLog: unresolved.length > 0 || options.reconcileWholeLog === true,
    keys: relayed.size,
    delivered,
    deleted: done.length,
    left,
  };
}

/**
 * Relays every stream of one partition key from the log, through the relay core: what is at or
 * below a stream's cursor is dropped there, the rest is published in order. Items that are not
 * valid events are not sent to the dead-letter queue again (the relay did when their record came);
 * the gap they leave holds their stream back as in the relay. Returns the error, if any.
 */
async function relayPartitionKey(options: RepublishOptions, partitionkey: string, delivered: Record<string, number>): Promise<string | undefined> {
  const items = await outboxItemsOf(options.dynamodb, options.tableName, partitionkey);
  const records: RelayRecord[] = items
    .map((item, i) => toRelayRecord({ dynamodb: { Keys: keysOf(item), NewImage: item as Record<string, LambdaAttributeValue>, SequenceNumber: `log:${i + 1}` } }))
    .filter((record) => 'event' in record);
  if (records.length === 0) return undefined;
  const outcome = await relayBatch(records, options.relay);
  for (const [target, count] of Object.entries(outcome.delivered)) delivered[target] = (delivered[target] ?? 0) + count;
  if (outcome.firstFailedSequenceNumber === undefined) return undefined;
  const error = outcome.lastError instanceof Error ? outcome.lastError.name : String(outcome.lastError);
  return `partition key ${partitionkey}: ${error}`;
}

const keysOf = (item: Record<string, AttributeValue>) => ({
  [OUTBOX.partitionKey]: item[OUTBOX.partitionKey] as LambdaAttributeValue,
  [OUTBOX.sortKey]: item[OUTBOX.sortKey] as LambdaAttributeValue,
});

/** The partition keys of the outbox INSERTs among a batch's records (the records the relay's filter passes). */
function partitionKeysOf(records: readonly DynamoDBRecord[]): string[] {
  const keys = new Set<string>();
  for (const record of records) {
    const image = record.dynamodb?.NewImage;
    const pk = image?.[OUTBOX.partitionKey]?.S;
    if (record.eventName !== 'INSERT' || image?.[OUTBOX.kindAttribute]?.S !== OUTBOX.kindValue || !pk?.startsWith('OUTBOX#')) continue;
    keys.add(pk.slice('OUTBOX#'.length));
  }
  return [...keys];
}

/** Every message of the queue, each received once (hidden from others while this runs). */
async function receiveAll(options: RepublishOptions): Promise<Message[]> {
  const messages = new Map<string, Message>();
  for (let empty = 0; empty < 2; ) {
    const { Messages = [] } = await options.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: options.deadLetterQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: options.visibilityTimeoutSeconds ?? 300 }),
    );
    const fresh = Messages.filter((m) => !messages.has(m.MessageId ?? ''));
    for (const message of fresh) messages.set(message.MessageId ?? '', message);
    empty = fresh.length === 0 ? empty + 1 : 0;
  }
  return [...messages.values()];
}

function parseJson(body: string | undefined): unknown {
  try {
    return JSON.parse(body ?? '');
  } catch {
    return undefined;
  }
}

const compareBatches = (a: FailedStreamBatch, b: FailedStreamBatch): number =>
  a.streamArn.localeCompare(b.streamArn) || a.shardId.localeCompare(b.shardId) || (BigInt(a.startSequenceNumber) < BigInt(b.startSequenceNumber) ? -1 : BigInt(a.startSequenceNumber) > BigInt(b.startSequenceNumber) ? 1 : 0);
