import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DeleteItemCommand, DynamoDBClient, PutItemCommand, QueryCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { Outbox, OUTBOX, outboxPartitionKey, outboxSortKey } from '../../functions/toolkit/outbox';
import { DynamoStreamsReader } from '../../functions/toolkit/relay';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { endpointUrl } from '../../localstack/cloud';
import { eventually, unique } from '../support/eventually';
import { stackOutputs } from '../support/outputs';
import { DeliveryLog, type Delivery } from './relay/DeliveryLog';
import { RELAY_TEST_SOURCE } from './relay/RelayTestStack';

/**
 * Per-stream order on the local cloud, with the stream orders the emulator never produces. The test
 * relay input is the generic relay function without a stream mapping: it is invoked directly with
 * stream events whose records are real committed outbox items, in a shuffled order, within a batch
 * and across invocations. An ordered FIFO subscriber's observer records what arrives.
 */

const ddb = new DynamoDBClient({});
const lambda = new LambdaClient({});
const sqs = new SQSClient({});
let out: Record<string, string>;
let outbox: Outbox;
let deliveries: DeliveryLog;
let shardSequence = 10n ** 20n;

beforeAll(() => {
  out = stackOutputs('RelayTest');
  outbox = new Outbox({ client: ddb, tableName: out.InputTableName!, source: RELAY_TEST_SOURCE, retentionSeconds: 3600 });
  deliveries = new DeliveryLog(ddb, out.DeliveriesTableName!);
});

/** Commits counter `id`'s events: one commit per entry of `commits`, each with that many events. */
async function commitCounter(id: string, commits: readonly number[]): Promise<void> {
  let version = 0;
  for (const count of commits) {
    const events = Array.from({ length: count }, (_, i) => ({ type: 'test.counter.incremented', data: { value: version + i + 1 } }));
    await outbox.commit([{ id, key: { pk: `COUNTER#${id}`, sk: 'STATE' }, expectedVersion: version, state: { value: version + count }, events }]);
    version += count;
  }
}

/** The committed outbox items of a key, as stored (a consistent Query). */
async function outboxItems(key: string): Promise<Array<Record<string, AttributeValue>>> {
  const { Items = [] } = await ddb.send(
    new QueryCommand({ TableName: out.InputTableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: outboxPartitionKey(key) } }, ConsistentRead: true }),
  );
  return Items;
}

/** A stream INSERT record of a committed item, as a DynamoDB stream would carry it (NEW_IMAGE), numbered as a shard numbers them. */
function insertRecord(item: Record<string, AttributeValue>): DynamoDBRecord {
  shardSequence += 1n;
  return {
    eventID: unique('event'),
    eventName: 'INSERT',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    dynamodb: {
      ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
      Keys: { pk: item.pk as never, sk: item.sk as never },
      NewImage: item as never,
      SequenceNumber: String(shardSequence),
      SizeBytes: JSON.stringify(item).length,
      StreamViewType: 'NEW_IMAGE',
    },
    eventSourceARN: out.InputStreamArn!,
  };
}

async function invokeRelay(records: readonly DynamoDBRecord[]): Promise<DynamoDBBatchResponse> {
  const event: DynamoDBStreamEvent = { Records: [...records] };
  const response = await lambda.send(new InvokeCommand({ FunctionName: out.InputRelayFunctionName, Payload: JSON.stringify(event) }));
  const payload = JSON.parse(Buffer.from(response.Payload ?? []).toString() || '{}');
  if (response.FunctionError) throw new Error(`relay failed: ${JSON.stringify(payload)}`);
  return payload as DynamoDBBatchResponse;
}

const waitForOrdered = (key: string, count: number, timeoutMs = 60_000): Promise<Delivery[]> =>
  eventually(() => deliveries.list('ordered', key), (d) => d.length >= count, { what: `${count} ordered deliveries of ${key}`, timeoutMs });

const sequences = (list: readonly Delivery[]) => list.map((d) => d.sequence);
const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/** Fisher–Yates with Math.random: each run a different order; the assertions hold for every one. */
function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/**
 * A barrier instead of a fixed wait: one more event per key, relayed last. A FIFO group delivers in
 * order, so once it arrived, anything the relay sent before it has arrived too.
 */
async function commitAndRelayOneMore(key: string, version: number): Promise<void> {
  await outbox.commit([{ id: key, key: { pk: `COUNTER#${key}`, sk: 'STATE' }, expectedVersion: version, state: { value: version + 1 }, events: [{ type: 'test.counter.incremented', data: { value: version + 1 } }] }]);
  const item = (await outboxItems(key)).find((i) => i.sk?.S === outboxSortKey(key, version + 1))!;
  expect((await invokeRelay([insertRecord(item)])).batchItemFailures).toEqual([]);
}

describe('the relay orders each stream by sequence, whatever order the stream brings its records in', () => {
  it('delivers 3 keys’ events, shuffled within a batch and across two invocations, in per-key order, none lost or duplicated', async () => {
    // arrange: commits of one and of two events (a commit's items reach a stream independently)
    const keys = [unique('shuffle-a'), unique('shuffle-b'), unique('shuffle-c')];
    await Promise.all(keys.map((key) => commitCounter(key, [1, 2, 1, 2])));
    const records = shuffled((await Promise.all(keys.map(outboxItems))).flat().map(insertRecord));
    expect(records).toHaveLength(18);
    const cut = 5 + Math.floor(Math.random() * 8);

    // act: two invocations, as two batches of a shard would be
    const first = await invokeRelay(records.slice(0, cut));
    const second = await invokeRelay(records.slice(cut));
    for (const key of keys) await commitAndRelayOneMore(key, 6);

    // assert
    expect(first.batchItemFailures).toEqual([]);
    expect(second.batchItemFailures).toEqual([]);
    for (const key of keys) {
      const got = await waitForOrdered(key, 7);
      expect(sequences(got), key).toEqual(oneTo(7));
      expect(new Set(got.map((d) => d.id)).size).toBe(7);
    }
  });

  it('publishes one commit’s two events in order when the later one comes alone first, and nothing again when the earlier one follows', async () => {
    // arrange: one commit of sequences 1 and 2
    const key = unique('split-commit');
    await commitCounter(key, [2]);
    const [one, two] = (await outboxItems(key)).map(insertRecord);

    // act: record 2 alone (the relay reads 1 from the log), then record 1 alone (already published)
    await invokeRelay([two!]);
    await invokeRelay([one!]);
    await commitAndRelayOneMore(key, 2);

    // assert
    expect(sequences(await waitForOrdered(key, 3))).toEqual([1, 2, 3]);
  });
});

/** AWS's on-failure record of a stream mapping (Lambda developer guide, "on-failure destinations"). */
function onFailureRecord(batch: { shardId: string; startSequenceNumber: string; endSequenceNumber: string; batchSize: number }) {
  const now = new Date().toISOString();
  return {
    requestContext: { requestId: unique('request'), functionArn: `arn:aws:lambda:us-east-1:000000000000:function:${out.InputRelayFunctionName}`, condition: 'RetryAttemptsExhausted', approximateInvokeCount: 11 },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    version: '1.0',
    timestamp: now,
    DDBStreamBatchInfo: { ...batch, approximateArrivalOfFirstRecord: now, approximateArrivalOfLastRecord: now, streamArn: out.InputStreamArn },
  };
}

const execFileAsync = promisify(execFile);

/** `npm run ops -- republish <queue>`, as an operator runs it, against the local cloud. */
async function opsRepublish(queueName: string, ...flags: string[]): Promise<string> {
  const { stdout } = await execFileAsync('npx', ['tsx', 'scripts/ops.ts', 'republish', queueName, ...flags], { env: { ...process.env, AWS_ENDPOINT_URL: endpointUrl() }, timeout: 120_000 });
  return stdout;
}

/** Takes the messages of the relay input's dead-letter queue that mention `text` (deleting them: cleanup). */
async function takeDeadLetters(text: string): Promise<string[]> {
  const bodies: string[] = [];
  for (let empty = 0; empty < 2; ) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: out.InputDeadLetterQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    const mine = Messages.filter((m) => m.Body?.includes(text));
    for (const message of mine) {
      bodies.push(message.Body!);
      await sqs.send(new DeleteMessageCommand({ QueueUrl: out.InputDeadLetterQueueUrl, ReceiptHandle: message.ReceiptHandle! }));
    }
    empty = Messages.length === 0 ? empty + 1 : 0;
  }
  return bodies;
}

describe('npm run ops -- republish <relay dlq>', () => {
  const reader = () => new DynamoStreamsReader(new DynamoDBStreamsClient({}), { maxEmptyPages: 1 });

  it('re-sends a given-up batch’s events from the outbox, in order, keys read from the stream; leaves the relay’s own dead letters', async () => {
    // arrange: events committed but never relayed (their batch "exhausted its retries"); the DLQ gets
    // AWS's on-failure record of that batch, and a dead letter of the relay's own
    const key = unique('given-up');
    await commitCounter(key, [1, 2]);
    const [shard] = await reader().shards(out.InputStreamArn!);
    const ours = await eventually(
      async () =>
        (await reader().recordsFrom(out.InputStreamArn!, shard!.shardId, shard!.startingSequenceNumber)).filter((r) => r.dynamodb?.NewImage?.[OUTBOX.partitionKey]?.S === outboxPartitionKey(key)),
      (found) => found.length === 3,
      { what: `the stream records of ${key}` },
    );
    const numbers = ours.map((r) => r.dynamodb!.SequenceNumber!);
    await sqs.send(new SendMessageCommand({ QueueUrl: out.InputDeadLetterQueueUrl, MessageBody: JSON.stringify(onFailureRecord({ shardId: shard!.shardId, startSequenceNumber: numbers[0]!, endSequenceNumber: numbers.at(-1)!, batchSize: 3 })) }));
    const poison = { sequenceNumber: '1', reason: 'envelope is not valid JSON', errorName: 'InvalidEnvelopeError', keys: { pk: outboxPartitionKey(`${key}-poison`), sk: outboxSortKey(`${key}-poison`, 1) }, deadLetteredAt: new Date().toISOString() };
    await sqs.send(new SendMessageCommand({ QueueUrl: out.InputDeadLetterQueueUrl, MessageBody: JSON.stringify(poison) }));

    // act
    const output = await opsRepublish(out.InputDeadLetterQueueName!);

    // assert: delivered in order; the on-failure record is gone, the relay's own dead letter stays
    expect(sequences(await waitForOrdered(key, 3))).toEqual([1, 2, 3]);
    expect(output).toMatch(/1 resolved from the stream/);
    expect(output).toMatch(new RegExp(`left .*relay-dead-letter.*${key}-poison`));
    const left = await takeDeadLetters(key);
    expect(left).toHaveLength(1);
    expect(JSON.parse(left[0]!)).toMatchObject({ errorName: 'InvalidEnvelopeError' });
  });

  it('reconciles the whole log when the batch’s records cannot be read any more, and a second run publishes nothing new', async () => {
    // arrange: never relayed; the on-failure record names a shard the stream no longer has
    const key = unique('trimmed');
    await commitCounter(key, [2, 1]);
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: out.InputDeadLetterQueueUrl,
        MessageBody: JSON.stringify({ ...onFailureRecord({ shardId: 'shardId-00000000000000000000-trimmed0', startSequenceNumber: '100', endSequenceNumber: '200', batchSize: 3 }), marker: key }),
      }),
    );

    // act
    const output = await opsRepublish(out.InputDeadLetterQueueName!);
    const again = await opsRepublish(out.InputDeadLetterQueueName!);
    await commitAndRelayOneMore(key, 3);

    // assert
    expect(output).toMatch(/the whole log reconciled/);
    expect(output).toMatch(/1 deleted/);
    expect(again).toMatch(/0 failed stream batch/);
    expect(sequences(await waitForOrdered(key, 4))).toEqual([1, 2, 3, 4]);
    expect(await takeDeadLetters(key)).toEqual([]);
  });

  it('holds a stream behind a sequence missing from the log, dead-letters what waits (keys only), and relays it in order once the item is restored', async () => {
    // arrange: sequence 2 of a committed stream is gone from the log (deleted by hand)
    const key = unique('hole');
    await commitCounter(key, [1, 1, 1]);
    const [one, two, three] = await outboxItems(key);
    await ddb.send(new DeleteItemCommand({ TableName: out.InputTableName, Key: { pk: two!.pk!, sk: two!.sk! } }));

    // act: records 3 and 1 reach the relay; then the item is restored and the operator reconciles
    const held = await invokeRelay([insertRecord(three!), insertRecord(one!)]);
    const deadLetters = await eventually(() => peekDeadLetters(key), (bodies) => bodies.length >= 1, { what: `the dead letter of ${key}#3` });
    await ddb.send(new PutItemCommand({ TableName: out.InputTableName, Item: two! }));
    const output = await opsRepublish(out.InputDeadLetterQueueName!, '--reconcile');
    await commitAndRelayOneMore(key, 3);

    // assert: 1 alone at first; then 2, 3 and 4 in order; the dead letter names the keys, not the data
    expect(held.batchItemFailures).toEqual([]);
    expect(sequences(await waitForOrdered(key, 4))).toEqual([1, 2, 3, 4]);
    const body = JSON.parse(deadLetters[0]!) as { errorName: string; reason: string; keys: Record<string, string> };
    expect(body).toMatchObject({ errorName: 'SequenceGapError', keys: { pk: outboxPartitionKey(key), sk: outboxSortKey(key, 3) } });
    expect(body.reason).toMatch(/sequence 2 .*not in the outbox log/);
    expect(deadLetters[0]).not.toContain('"value"');
    expect(output).toMatch(/the whole log reconciled/);
    expect(output).toMatch(new RegExp(`left .*relay-dead-letter.*SequenceGapError.*${key}`));
    expect(await takeDeadLetters(key)).toHaveLength(1);
  });
});

/** The bodies of the relay input's dead letters that mention `text`, left in the queue. */
async function peekDeadLetters(text: string): Promise<string[]> {
  const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: out.InputDeadLetterQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 0 }));
  return Messages.filter((m) => m.Body?.includes(text)).map((m) => m.Body!);
}
