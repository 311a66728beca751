import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { PARKED_GROUP_ATTRIBUTE, REDRIVE_ATTRIBUTE } from './ParkedGroups';

/** Message attributes a dead-lettered message carries: why, since when, after how many attempts. */
export const DEAD_LETTER_ATTRIBUTES = {
  errorName: 'errorName',
  errorMessage: 'errorMessage',
  firstSeenAt: 'firstSeenAt',
  attemptCount: 'attemptCount',
  deadLetteredAt: 'deadLetteredAt',
  originalMessageId: 'originalMessageId',
} as const;

/**
 * Sends a consumer's message to its dead-letter queue with the reason as message attributes, body
 * unchanged (so a redrive sends it back as it was). On a FIFO DLQ the message keeps its group (or
 * goes to `dlqGroup`, naming its own group in an attribute), and its original message id deduplicates
 * a retried send.
 */
export class MessageDeadLetters {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async send(record: SQSRecord, error: unknown, attempt: number, dlqGroup?: string): Promise<void> {
    const err = error instanceof Error ? error : new Error(String(error));
    const firstSeen = Number(record.attributes.ApproximateFirstReceiveTimestamp);
    const attribute = (value: string) => ({ DataType: 'String', StringValue: value.slice(0, 1024) || '-' });
    const group = record.attributes.MessageGroupId;
    const redriveRun = record.messageAttributes?.[REDRIVE_ATTRIBUTE]?.stringValue;
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: record.body,
        ...(group === undefined ? {} : { MessageGroupId: dlqGroup ?? group, MessageDeduplicationId: record.messageId }),
        MessageAttributes: {
          [DEAD_LETTER_ATTRIBUTES.errorName]: attribute(err.name),
          [DEAD_LETTER_ATTRIBUTES.errorMessage]: attribute(err.message),
          [DEAD_LETTER_ATTRIBUTES.firstSeenAt]: attribute(Number.isFinite(firstSeen) ? new Date(firstSeen).toISOString() : this.clock().toISOString()),
          [DEAD_LETTER_ATTRIBUTES.attemptCount]: { DataType: 'Number', StringValue: String(attempt) },
          [DEAD_LETTER_ATTRIBUTES.deadLetteredAt]: attribute(this.clock().toISOString()),
          [DEAD_LETTER_ATTRIBUTES.originalMessageId]: attribute(record.messageId),
          // Kept, so the redrive tool sees that a message it sent back failed again in the same run.
          ...(redriveRun ? { [REDRIVE_ATTRIBUTE]: attribute(redriveRun) } : {}),
          ...(group !== undefined && dlqGroup !== undefined && dlqGroup !== group ? { [PARKED_GROUP_ATTRIBUTE]: { DataType: 'String', StringValue: group } } : {}),
        },
      }),
    );
  }
}
