import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DeadLetterSink, PoisonRecord } from './ports';

/**
 * Sends poison records to a standard SQS dead-letter queue: the body names the record (stream
 * sequence number and outbox keys) and the reason, so an operator can find it in the log. Never the
 * payload: the outbox keeps that.
 */
export class SqsDeadLetterSink implements DeadLetterSink {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async send(records: readonly PoisonRecord[]): Promise<void> {
    for (let start = 0; start < records.length; start += 10) {
      const chunk = records.slice(start, start + 10);
      const response = await this.client.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: chunk.map((record, i) => ({
            Id: String(i),
            MessageBody: JSON.stringify({ ...record, deadLetteredAt: this.clock().toISOString() }),
            MessageAttributes: {
              errorName: { DataType: 'String', StringValue: record.errorName },
              reason: { DataType: 'String', StringValue: record.reason.slice(0, 1024) },
            },
          })),
        }),
      );
      if (response.Failed?.length) {
        throw new Error(`Dead-letter queue refused ${response.Failed.length} record(s): ${response.Failed[0]?.Code}`);
      }
    }
  }
}
