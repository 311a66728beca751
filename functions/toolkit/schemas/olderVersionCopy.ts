import { createHash } from 'node:crypto';
import type { EventEnvelope } from '../envelope/EventEnvelope';

/**
 * The id of the copy of event `id` in `dataversion`: a UUID v7 that keeps the original's timestamp
 * (so it sorts with it) and takes its other bits from a hash of the original id and the version.
 * The same original always gives the same copy id, so a republished copy is deduplicated (FIFO) and
 * recognised by consumers' idempotency like any duplicate, and two versions never share an id.
 */
export function copyEventId(id: string, dataversion: number): string {
  const hash = createHash('sha256').update(`${id}\u0000dataversion=${dataversion}`).digest('hex');
  const timestamp = id.replaceAll('-', '').slice(0, 12);
  const variant = ((parseInt(hash[3]!, 16) & 0x3) | 0x8).toString(16);
  return `${timestamp.slice(0, 8)}-${timestamp.slice(8, 12)}-7${hash.slice(0, 3)}-${variant}${hash.slice(4, 7)}-${hash.slice(7, 19)}`;
}

/**
 * The copy of a committed event in an older version: same source, type, subject, partition key,
 * sequence, time and trace; its own `dataversion`, `data` and id (`copyEventId`). `dataschema`, if
 * any, named the original's schema, so the copy has none.
 */
export function olderVersionCopy<T>(event: EventEnvelope, dataversion: number, data: T): EventEnvelope<T> {
  const { dataschema: _dataschema, ...rest } = event;
  return { ...rest, id: copyEventId(event.id, dataversion), dataversion, data };
}
