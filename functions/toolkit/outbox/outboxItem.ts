import type { EventEnvelope } from '../envelope';

/** Attribute names and values shared by the writer, the stream filter and the log reader. */
export const OUTBOX = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Marks an outbox item; the relay's event-source filter matches INSERTs with this value. */
  kindAttribute: 'kind',
  kindValue: 'outbox-event',
  /** The envelope, as the exact JSON string that is published. */
  envelopeAttribute: 'envelope',
  /** Epoch seconds after which DynamoDB TTL may delete the item. */
  ttlAttribute: 'expiresAt',
  /** Where aggregate items keep their version. */
  versionAttribute: 'version',
} as const;

/** Sequences are zero-padded so that the sort key orders them numerically. */
const SEQUENCE_DIGITS = 15;

/** Partition key of a partition key's event log. */
export const outboxPartitionKey = (partitionkey: string): string => `OUTBOX#${partitionkey}`;

/** Sort key: subject, then sequence, so one Query returns a key's events in commit order. */
export const outboxSortKey = (subject: string, sequence: number): string =>
  `${subject}#${String(sequence).padStart(SEQUENCE_DIGITS, '0')}`;

export type OutboxItem = Record<string, string | number>;

/** The outbox item of one event. Events are written once and never updated. */
export function toOutboxItem(event: EventEnvelope, expiresAt: number | undefined): OutboxItem {
  return {
    [OUTBOX.partitionKey]: outboxPartitionKey(event.partitionkey),
    [OUTBOX.sortKey]: outboxSortKey(event.subject, Number(event.sequence)),
    [OUTBOX.kindAttribute]: OUTBOX.kindValue,
    id: event.id,
    type: event.type,
    subject: event.subject,
    sequence: Number(event.sequence),
    [OUTBOX.envelopeAttribute]: JSON.stringify(event),
    ...(expiresAt === undefined ? {} : { [OUTBOX.ttlAttribute]: expiresAt }),
  };
}
