import {
  CreateQueueCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, unique } from '../support/eventually';
import { arrivals, sendFifo } from './probeLog';

// AWS behaviour relied on: FIFO queues keep order per message group, deduplicate by
// MessageDeduplicationId for 5 minutes (also after the first copy was deleted), and a FIFO → Lambda
// mapping honours partial batch responses without letting a group's later messages overtake.
describe('SQS FIFO (conformance)', () => {
  const sqs = new SQSClient({});
  let queueUrl = '';

  beforeAll(async () => {
    const created = await sqs.send(new CreateQueueCommand({ QueueName: `${unique('conf')}.fifo`, Attributes: { FifoQueue: 'true', VisibilityTimeout: '2' } }));
    queueUrl = created.QueueUrl!;
  });
  afterAll(async () => {
    await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
  });

  async function drain(expected: number): Promise<Message[]> {
    const got: Message[] = [];
    await eventually(
      async () => {
        const batch = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['MessageGroupId'] }));
        for (const message of batch.Messages ?? []) {
          got.push(message);
          await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle! }));
        }
        return got.length;
      },
      (n) => n >= expected,
      { what: `${expected} messages`, timeoutMs: 20_000 },
    );
    return got;
  }

  it('keeps order per message group and drops duplicates, also after delete', async () => {
    // arrange: 3 groups × 5 messages sent in batches, every message sent twice
    const entries = Array.from({ length: 15 }, (_, i) => ({ Id: String(i), MessageBody: `g${i % 3}-${Math.floor(i / 3)}`, MessageGroupId: `g${i % 3}`, MessageDeduplicationId: `d${i}` }));
    for (let start = 0; start < entries.length; start += 10) await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries.slice(start, start + 10) }));
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries.slice(0, 10) }));

    // act
    const got = await drain(15);

    // assert: per group 0..4 in order, nothing twice
    for (const g of ['g0', 'g1', 'g2']) {
      expect(got.filter((m) => m.Attributes?.MessageGroupId === g).map((m) => m.Body)).toEqual([0, 1, 2, 3, 4].map((n) => `${g}-${n}`));
    }
    // a duplicate sent after the first copy was deleted is still dropped
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'g0-0', MessageGroupId: 'g0', MessageDeduplicationId: 'd0' }));
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'marker', MessageGroupId: 'g0', MessageDeduplicationId: unique('m') }));
    const after = await drain(1);
    expect(after.map((m) => m.Body)).toEqual(['marker']);
  });

  it('mapping: a failed message is retried before its group goes on; other groups are not held', async () => {
    // arrange: group A's second message fails once
    const a = unique('A');
    const b = unique('B');
    for (let i = 1; i <= 4; i++) await sendFifo(a, String(i), i === 2 ? 1 : 0);
    for (let i = 1; i <= 3; i++) await sendFifo(b, String(i));

    // act
    const gotA = await eventually(() => arrivals(`fifo#${a}`), (x) => x.some((r) => r.item === '4'), { what: 'group A done' });
    const gotB = await eventually(() => arrivals(`fifo#${b}`), (x) => x.length >= 3, { what: 'group B done' });

    // assert
    expect(gotA.map((r) => `${r.item}${r.ok ? '' : '!'}`)).toEqual(['1', '2!', '2', '3', '4']);
    expect(gotB.map((r) => r.item)).toEqual(['1', '2', '3']);
  });
});
