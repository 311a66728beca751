import type { DynamoDBRecord } from 'aws-lambda';
import type { EventEnvelope } from '../envelope';

/** An entry a target refused, by event id, with the target's reason. */
export interface FailedEntry {
  readonly id: string;
  readonly code: string;
  readonly message: string;
}

/** Where the relay publishes: the event bus, or one ordered subscriber's FIFO queue. */
export interface EventTarget {
  /** For logs and metrics, e.g. `bus:orders` or `fifo:barista.fifo`. */
  readonly name: string;
  /** Most entries per call (10 for PutEvents and SendMessageBatch). */
  readonly maxEntries: number;
  /** Most bytes per call. */
  readonly maxBytes: number;
  /**
   * Whether this target also gets the extra copies of `RelayDependencies.alsoPublish` (e.g. an older
   * version of an event during a schema migration). The bus does: each fan-out consumer's rule picks
   * the version it reads. Ordered FIFO subscribers do not: they get each event once, as committed.
   * @default false
   */
  readonly receivesCopies?: boolean;
  /**
   * For a target that keeps order per group (an SQS FIFO queue: the message group): the event's group.
   * The relay then never puts two events of one group in one call, because a call reports each entry
   * on its own: it could accept a later event of a group and refuse an earlier one, which, retried,
   * would land behind it. Each call carries the next event of up to `maxEntries` groups instead.
   * @default no groups: calls take the events in stream order
   */
  readonly groupOf?: (event: EventEnvelope) => string;
  /** Bytes this event counts against `maxBytes`. */
  sizeOf(event: EventEnvelope): number;
  /**
   * Sends the events in this order in one call. Returns the entries the target refused; throws when
   * the whole call failed (after the SDK's own retries).
   */
  publish(events: readonly EventEnvelope[]): Promise<FailedEntry[]>;
}

/** A record the relay cannot publish (its outbox item is not a valid envelope). */
export interface PoisonRecord {
  readonly sequenceNumber: string;
  readonly reason: string;
  readonly errorName: string;
  /** The outbox item's keys, to find it in the log; never its payload. */
  readonly keys: Readonly<Record<string, string>>;
}

/** Where poison records go at once, with their reason. */
export interface DeadLetterSink {
  send(records: readonly PoisonRecord[]): Promise<void>;
}

/**
 * A stream the relay keeps in order: one aggregate's events (`subject`) under one partition key,
 * numbered by `sequence` 1, 2, 3, … (the aggregate version that produced each). It is what one outbox
 * item prefix holds: pk `OUTBOX#<partitionkey>`, sk `<subject>#<sequence>`.
 */
export interface StreamKey {
  readonly partitionkey: string;
  readonly subject: string;
}

/** How far a stream has been published: every event up to `sequence` reached every target. */
export interface Cursor extends StreamKey {
  readonly sequence: number;
  /** Epoch seconds after which the cursor may be deleted (DynamoDB TTL); absent: kept for good. */
  readonly expiresAt?: number;
}

/** The relay's cursors, one per stream. */
export interface CursorStore {
  /** The cursors of these streams, read consistently; a stream that has none is left out. */
  get(streams: readonly StreamKey[]): Promise<Cursor[]>;
  /** Stores these cursors, each replacing its stream's. */
  put(cursors: readonly Cursor[]): Promise<void>;
}

/** One outbox item of a stream as read back from the log: an event, or an item that is not one. */
export type LoggedItem =
  | { readonly sequence: number; readonly event: EventEnvelope; readonly expiresAt?: number }
  | { readonly sequence: number; readonly unreadable: string; readonly expiresAt?: number };

/** The outbox table as a log the relay reads the events it did not get (yet) from the stream. */
export interface OutboxLog {
  /** The stream's items with `from ≤ sequence ≤ to`, in sequence order, read consistently. */
  read(stream: StreamKey, from: number, to: number): Promise<LoggedItem[]>;
}

/**
 * A stream batch that exhausted the relay mapping's retries, as AWS records it in the on-failure
 * destination (`DDBStreamBatchInfo`): where its records are, not the records.
 */
export interface FailedStreamBatch {
  readonly streamArn: string;
  readonly shardId: string;
  readonly startSequenceNumber: string;
  readonly endSequenceNumber: string;
  readonly batchSize?: number;
}

/** Reads a failed batch's records back from the stream while it still holds them (24 h). */
export interface StreamBatchReader {
  /** The batch's records, in stream order; throws when they cannot be read any more. */
  read(batch: FailedStreamBatch): Promise<DynamoDBRecord[]>;
}
