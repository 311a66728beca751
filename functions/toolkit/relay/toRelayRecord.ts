import type { AttributeValue, DynamoDBRecord } from 'aws-lambda';
import { parseEvent } from '../envelope';
import { OUTBOX } from '../outbox/outboxItem';
import type { RelayRecord } from './relayBatch';

/** Reads a stream record's outbox item into an envelope (and its TTL); a record that does not parse is poison. */
export function toRelayRecord(record: DynamoDBRecord): RelayRecord {
  const sequenceNumber = record.dynamodb?.SequenceNumber ?? '';
  const image = record.dynamodb?.NewImage ?? {};
  const keys = stringKeys(record.dynamodb?.Keys ?? {});
  try {
    const raw = image[OUTBOX.envelopeAttribute]?.S;
    if (raw === undefined) throw new TypeError(`outbox item has no string attribute "${OUTBOX.envelopeAttribute}"`);
    const expiresAt = Number(image[OUTBOX.ttlAttribute]?.N);
    return { sequenceNumber, event: parseEvent(raw), ...(Number.isFinite(expiresAt) ? { expiresAt } : {}) };
  } catch (error) {
    const err = error instanceof Error ? error : new Error(String(error));
    return { sequenceNumber, poison: { sequenceNumber, reason: err.message, errorName: err.name, keys } };
  }
}

const stringKeys = (keys: Record<string, AttributeValue>): Record<string, string> =>
  Object.fromEntries(Object.entries(keys).map(([name, value]) => [name, value.S ?? value.N ?? '(binary)']));
