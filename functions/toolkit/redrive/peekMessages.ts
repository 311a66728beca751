import { ChangeMessageVisibilityCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';

/**
 * Reads up to `max` messages without consuming them: each is hidden while the scan goes on (so the
 * next receive returns others) and made visible again at the end, in its place.
 */
export async function peekMessages(sqs: SQSClient, queueUrl: string, max = 10): Promise<Message[]> {
  const seen: Message[] = [];
  try {
    while (seen.length < max) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(10, max - seen.length),
          VisibilityTimeout: 30,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['All'],
        }),
      );
      if (Messages.length === 0) break;
      seen.push(...Messages);
    }
  } finally {
    for (const message of seen) {
      await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle!, VisibilityTimeout: 0 })).catch(() => undefined);
    }
  }
  return seen;
}
