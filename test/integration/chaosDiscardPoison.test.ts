/**
 * The chaos flows' operator step "discard the poison, then redrive": on a dead-letter queue with a
 * long backlog, every poison message at the head of its group (where a parked group has it) is found
 * and deleted, and every other message stays, in its group's order. (Found by the full chaos run: a
 * scan that made each message visible again at once met the queue's first messages on every receive,
 * gave up, and left the poison behind 418 others to be redriven.)
 */
import { CreateQueueCommand, DeleteMessageCommand, DeleteQueueCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEAD_LETTER_ATTRIBUTES } from '../../functions/toolkit/consumer/MessageDeadLetters';
import { discardPoison } from '../chaos/discardPoison';
import { unique } from '../support/eventually';

const sqs = new SQSClient({});
/** A parked group's dead letters: its poison first, then what was diverted behind it (as the consumer parks). */
const PARKED = ['p0', 'p1'];
/** Groups dead-lettered for other reasons, queued ahead of every poison: the backlog a scan must get past. */
const BACKLOG = Array.from({ length: 10 }, (_, n) => `g${n}`);
let queueUrl = '';

beforeAll(async () => {
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${unique('discard')}.fifo`, Attributes: { FifoQueue: 'true', VisibilityTimeout: '30' } }))).QueueUrl!;
});
afterAll(async () => {
  await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
});

describe('discarding poison from a dead-letter queue (the chaos flows’ operator step)', () => {
  it('finds poison behind a long backlog, keeps everything else in its group’s order', async () => {
    // arrange: 60 ordinary messages in 10 groups first, then two parked groups (poison + 3 diverted
    // each) and two poison messages alone in their groups; every one with a reason
    const bodies = [
      ...BACKLOG.flatMap((group) => Array.from({ length: 6 }, (_, n) => ({ group, body: `${group}-${n}` }))),
      ...PARKED.flatMap((group) => [{ group, body: `${group}-0-POISON` }, ...Array.from({ length: 3 }, (_, n) => ({ group, body: `${group}-${n + 1}` }))]),
      { group: 'q0', body: 'q0-0-POISON' },
      { group: 'q1', body: 'q1-0-POISON' },
    ];
    const groups = [...new Set(bodies.map((b) => b.group))];
    for (let i = 0; i < bodies.length; i += 10) {
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: bodies.slice(i, i + 10).map(({ group, body }, k) => ({
            Id: String(k),
            MessageBody: body,
            MessageGroupId: group,
            MessageDeduplicationId: body,
            MessageAttributes: { [DEAD_LETTER_ATTRIBUTES.errorName]: { DataType: 'String', StringValue: 'SomeError' } },
          })),
        }),
      );
    }

    // act
    const discarded = await discardPoison(sqs, queueUrl, (body) => body.endsWith('-POISON'));

    // assert: the 4 poison messages deleted (with their reason); the 66 others still there, in their groups' order
    expect(discarded.map((d) => d.body).sort()).toEqual(bodies.filter((b) => b.body.endsWith('-POISON')).map((b) => b.body).sort());
    expect(discarded.every((d) => d.hasReason)).toBe(true);
    const left: Message[] = [];
    for (let empty = 0; empty < 3; ) {
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['MessageGroupId'] }));
      if (Messages.length === 0) empty++;
      for (const message of Messages) {
        left.push(message);
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle! }));
      }
    }
    for (const group of groups) {
      expect(left.filter((m) => m.Attributes?.MessageGroupId === group).map((m) => m.Body)).toEqual(bodies.filter((b) => b.group === group && !b.body.endsWith('-POISON')).map((b) => b.body));
    }
  });
});
