import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { marshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import { eventually, unique } from '../support/eventually';
import { knownGap } from '../support/knownGap';
import { arrivals, probe, putStreamed } from './probeLog';

// AWS behaviour relied on: a table's stream delivers each key's INSERTs in commit order with the new
// image; event-source filter criteria drop non-matching records before the function runs; a
// reported batch item failure makes that record and every later one of the shard be retried, in order.
describe('DynamoDB stream → Lambda mapping (conformance)', () => {
  it('delivers records of each partition key in commit order, with NEW_IMAGE, filtered by criteria', async () => {
    // arrange: 3 keys × 15 items interleaved, plus items the filter must drop
    const keys = [unique('s1'), unique('s2'), unique('s3')];
    for (let i = 1; i <= 15; i++) {
      for (const pk of keys) {
        await putStreamed({ pk, sk: String(i).padStart(3, '0'), kind: 'probe' });
        if (i % 5 === 0) await putStreamed({ pk, sk: `x${i}`, kind: 'not-probe' });
      }
    }
    // the same item written again is a MODIFY: filtered out too
    await putStreamed({ pk: keys[0]!, sk: '001', kind: 'probe', again: true });

    // act
    const seen = await Promise.all(keys.map((pk) => eventually(() => arrivals(`stream#${pk}`), (a) => a.length >= 15, { what: `15 records of ${pk}` })));

    // assert
    for (const got of seen) {
      expect(got.map((a) => a.item)).toEqual(Array.from({ length: 15 }, (_, i) => String(i + 1).padStart(3, '0')));
      expect(got.every((a) => a.eventName === 'INSERT' && a.hasNewImage && !a.hasOldImage)).toBe(true);
    }
  });

  it('retries a reported failed record and everything after it, in order, losing nothing', async () => {
    // arrange: record 3 of 5 fails once
    const pk = unique('partial');
    for (let i = 1; i <= 5; i++) await putStreamed({ pk, sk: String(i), kind: 'probe', ...(i === 3 ? { failTimes: 1 } : {}) });

    // act
    const got = await eventually(() => arrivals(`stream#${pk}`), (a) => a.some((x) => x.item === '5' && x.ok), { what: 'record 5 processed' });

    // assert: the failure was seen, then 3, 4, 5 arrived after it in order
    const failedAt = got.findIndex((a) => a.item === '3' && !a.ok);
    expect(failedAt).toBeGreaterThanOrEqual(0);
    expect(got.slice(failedAt + 1).filter((a) => ['3', '4', '5'].includes(a.item)).map((a) => a.item)).toEqual(['3', '4', '5']);
    expect(got.filter((a) => a.ok).map((a) => a.item)).toEqual(expect.arrayContaining(['1', '2', '3', '4', '5']));
    // records after the failure were not processed before it was retried
    expect(got.slice(0, failedAt).map((a) => a.item)).not.toContain('4');
  });

  knownGap(
    'after MaximumRetryAttempts the failed batch goes to the on-failure destination, and the shard moves on',
    'none needed: the relay retries inside the invocation and dead-letters poison itself; the mapping settings are asserted on the template',
    async () => {
      // arrange: a record that fails every time, on a mapping with retryAttempts 1 and an SQS destination
      const pk = unique('exhausted');
      await new DynamoDBClient({}).send(new PutItemCommand({ TableName: probe().RetriedTableName, Item: marshall({ pk, sk: '1', kind: 'probe', failTimes: 1000 }) }));
      const sqs = new SQSClient({});

      // act: on AWS the batch is tried twice, then its shard range is sent to the destination
      const bodies: string[] = [];
      await eventually(
        async () => {
          const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: probe().OnFailureQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
          for (const m of got.Messages ?? []) {
            bodies.push(m.Body ?? '');
            await sqs.send(new DeleteMessageCommand({ QueueUrl: probe().OnFailureQueueUrl, ReceiptHandle: m.ReceiptHandle! }));
          }
          return bodies.length;
        },
        (n) => n >= 1,
        // On AWS the two attempts and the destination take seconds.
        { what: 'the failed batch at the on-failure destination', timeoutMs: 10_000 },
      );

      // assert
      expect(JSON.parse(bodies[0]!)).toHaveProperty('DDBStreamBatchInfo');
      expect((await arrivals(`stream#${pk}`)).length).toBe(2);
    },
    30_000,
  );
});
