import type { AttributeValue as SdkAttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue, DynamoDBRecord } from 'aws-lambda';
import type { PoisonRecord } from '../relay/ports';
import type { OutgoingMessage } from './fanOut';
import { toLiveMessage } from './liveMessage';

export interface StreamRecordsRead {
  /** In stream order. */
  readonly messages: OutgoingMessage[];
  /** Items that are not rows (e.g. a summary item), and records without a new image. */
  readonly skipped: number;
  /** Items that look like rows but are not valid: to the dead-letter queue, with the reason. */
  readonly poison: PoisonRecord[];
}

/** Reads a stream batch (NEW_IMAGE) into the messages to push, in order. */
export function readStreamRecords(records: readonly DynamoDBRecord[], kind: string): StreamRecordsRead {
  const messages: OutgoingMessage[] = [];
  const poison: PoisonRecord[] = [];
  let skipped = 0;
  for (const record of records) {
    const sequenceNumber = record.dynamodb?.SequenceNumber ?? '';
    const image = record.dynamodb?.NewImage;
    if (!image) {
      skipped++;
      continue;
    }
    const keys = stringKeys(record.dynamodb?.Keys ?? {});
    let item: Record<string, unknown>;
    try {
      item = unmarshall(image as Record<string, SdkAttributeValue>);
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      poison.push({ sequenceNumber, keys, errorName: err.name, reason: `the new image cannot be read: ${err.message}` });
      continue;
    }
    const mapped = toLiveMessage(kind, item);
    if (mapped.outcome === 'skip') skipped++;
    else if (mapped.outcome === 'poison') poison.push({ sequenceNumber, keys, errorName: 'InvalidLiveRow', reason: mapped.problems.join('; ') });
    else messages.push({ id: sequenceNumber, data: JSON.stringify(mapped.message) });
  }
  return { messages, skipped, poison };
}

const stringKeys = (keys: Record<string, AttributeValue>): Record<string, string> =>
  Object.fromEntries(Object.entries(keys).map(([name, value]) => [name, value.S ?? value.N ?? '(binary)']));
