import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import { DEAD_LETTER_ATTRIBUTES } from '../../functions/toolkit/consumer/MessageDeadLetters';
import type { DeadLetter } from './poison';

/**
 * Deletes the poison among a dead-letter queue's messages (an operator discards poison after reading
 * its reason, so that it does not bounce through every later redrive) and leaves every other message
 * in its place, in its order. Each message stays hidden until the scan has seen the whole queue: a
 * message made visible again at once would come back on the next receive (on a FIFO queue, its
 * group's and the queue's first), and poison further back would never be reached.
 *
 * On a FIFO queue a scan sees each group's first messages only (SQS returns nothing more of a group
 * while one of its messages is in flight): poison is found at the head of its group, where a parked
 * group has it (its poison, then what was diverted behind it) — also poison that a redrive sent back
 * and that failed again: it heads that run's own DLQ group (see ParkedGroups).
 */
export async function discardPoison(sqs: SQSClient, queueUrl: string, isPoison: (body: string) => boolean, hideSeconds = 300): Promise<DeadLetter[]> {
  /** Kept messages by id: a scan longer than `hideSeconds` receives one again, with a newer handle. */
  const kept = new Map<string, Message>();
  const discarded: DeadLetter[] = [];
  try {
    for (;;) {
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: hideSeconds, MessageAttributeNames: ['All'] }));
      if (Messages.length === 0) return discarded;
      for (const message of Messages) {
        const body = message.Body ?? '';
        if (isPoison(body)) {
          await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle! }));
          discarded.push({ body, hasReason: Boolean(message.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.errorName]?.StringValue) });
        } else kept.set(message.MessageId ?? message.ReceiptHandle!, message);
      }
    }
  } finally {
    for (const message of kept.values()) {
      await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle!, VisibilityTimeout: 0 })).catch(() => undefined);
    }
  }
}
