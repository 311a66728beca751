import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { EventEnvelope } from '../envelope';
import type { EventTarget, FailedEntry } from './ports';

/** SendMessageBatch limits: 10 entries and 256 KB of bodies and attributes per call. */
export const SEND_MESSAGE_BATCH_LIMITS = { maxEntries: 10, maxBytes: 256 * 1024 } as const;

/**
 * Sends envelopes to an ordered subscriber's FIFO queue: body = envelope,
 * `MessageGroupId` = partitionkey (per-key order), `MessageDeduplicationId` = id (republished
 * events within SQS's 5-minute window are dropped), `traceparent` as a message attribute.
 *
 * SendMessageBatch reports results per entry, so one call could accept a later entry of a group and
 * refuse an earlier one, which, retried, would land behind it: `groupOf` makes the relay put at most
 * one event of each group in a call (up to 10 groups per call).
 */
export class SqsFifoTarget implements EventTarget {
  readonly name: string;
  readonly maxEntries = SEND_MESSAGE_BATCH_LIMITS.maxEntries;
  readonly maxBytes = SEND_MESSAGE_BATCH_LIMITS.maxBytes;
  readonly groupOf = (event: EventEnvelope): string => event.partitionkey;

  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {
    this.name = `fifo:${queueUrl.slice(queueUrl.lastIndexOf('/') + 1)}`;
  }

  sizeOf(event: EventEnvelope): number {
    return Buffer.byteLength(JSON.stringify(event)) + 'traceparent'.length + 'String'.length + event.traceparent.length;
  }

  async publish(events: readonly EventEnvelope[]): Promise<FailedEntry[]> {
    const response = await this.client.send(
      new SendMessageBatchCommand({
        QueueUrl: this.queueUrl,
        Entries: events.map((event, i) => ({
          Id: String(i),
          MessageBody: JSON.stringify(event),
          MessageGroupId: event.partitionkey,
          MessageDeduplicationId: event.id,
          MessageAttributes: { traceparent: { DataType: 'String', StringValue: event.traceparent } },
        })),
      }),
    );
    return (response.Failed ?? []).map((failure) => ({
      id: events[Number(failure.Id)]?.id ?? String(failure.Id),
      code: failure.Code ?? 'Unknown',
      message: failure.Message ?? '',
    }));
  }
}
