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
 * Known limit: SendMessageBatch reports results per entry, so if one entry is refused while a later
 * entry of the same group is accepted, the retried entry lands behind it. Consumers see the gap in
 * `sequence` (the envelope carries it for this reason); handling it is the consumer's job (issue 4).
 */
export class SqsFifoTarget implements EventTarget {
  readonly name: string;
  readonly maxEntries = SEND_MESSAGE_BATCH_LIMITS.maxEntries;
  readonly maxBytes = SEND_MESSAGE_BATCH_LIMITS.maxBytes;

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
