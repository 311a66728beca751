import * as z from 'zod';
import { OUTBOX } from '../outbox/outboxItem';
import { InvalidStreamIdError } from './errors';

/**
 * Where a stream lives in its outbox table (besides its events, the outbox items
 * `OUTBOX#<streamId>` / `<streamId>#<sequence>`):
 * - the head `STREAM#<streamId>` / `HEAD`: `version` = the last event's sequence; the append's condition;
 * - the snapshot `STREAM#<streamId>` / `SNAPSHOT`: `version`, `state` (JSON) and `snapshotVersion`.
 */
export const STREAM = {
  partitionKeyPrefix: 'STREAM#',
  headSortKey: 'HEAD',
  snapshotSortKey: 'SNAPSHOT',
  stateAttribute: 'state',
  snapshotVersionAttribute: 'snapshotVersion',
} as const;

export const streamHeadKey = (streamId: string): Record<string, string> => ({
  [OUTBOX.partitionKey]: `${STREAM.partitionKeyPrefix}${streamId}`,
  [OUTBOX.sortKey]: STREAM.headSortKey,
});

export const snapshotKey = (streamId: string): Record<string, string> => ({
  [OUTBOX.partitionKey]: `${STREAM.partitionKeyPrefix}${streamId}`,
  [OUTBOX.sortKey]: STREAM.snapshotSortKey,
});

/** The snapshot item as stored; its `state` is parsed with the stream's state schema afterwards. */
export const SnapshotItemSchema = z.object({
  [OUTBOX.versionAttribute]: z.number().int().positive(),
  [STREAM.stateAttribute]: z.string(),
  [STREAM.snapshotVersionAttribute]: z.number().int().positive(),
});

/**
 * A stream id is the events' subject and partition key (at most 128 characters) and the prefix of
 * their sort keys, so it must not contain `#` (another stream's sort keys could fall in its range).
 */
export function checkStreamId(streamId: string): void {
  if (streamId.length === 0 || streamId.length > 128) throw new InvalidStreamIdError('must have 1 to 128 characters');
  if (streamId.includes('#')) throw new InvalidStreamIdError('must not contain "#"');
}
