import { DynamoDBClient, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { GetFunctionConfigurationCommand, InvokeCommand, LambdaClient, UpdateFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { DeliveryLog, type Delivery, type DeliveryPath } from './relay/DeliveryLog';
import { ConcurrencyError, GuardFailedError, Outbox, OUTBOX, outboxPartitionKey, outboxSortKey } from '../../functions/toolkit/outbox';
import { personal } from '../../functions/toolkit/privacy/personal';
import type { FieldSealer } from '../../functions/toolkit/privacy/ports';
import { endpointUrl } from '../../localstack/cloud';
import { eventually, unique } from '../support/eventually';
import { FaultProxy } from '../support/faultProxy';
import { stackOutputs } from '../support/outputs';
import { RELAY_TEST_SOURCE } from './relay/RelayTestStack';

const ddb = new DynamoDBClient({});
const lambda = new LambdaClient({});
/** The reference stack (PlaceOrder and its consumers) and the test stack with a raw relay observer. */
let out: Record<string, string>;
let outbox: Outbox;
let deliveries: DeliveryLog;

/** Commits `count` events for aggregate `id`, one commit per event, each on the version it read. */
async function commitCounter(id: string, count: number, from = 0, type = 'test.counter.incremented'): Promise<void> {
  for (let version = from; version < from + count; version++) {
    await outbox.commit([{ id, key: { pk: `COUNTER#${id}`, sk: 'STATE' }, expectedVersion: version, state: { value: version + 1 }, events: [{ type, data: { value: version + 1 } }] }]);
  }
}

const waitForDeliveries = (path: DeliveryPath, key: string, count: number, timeoutMs = 60_000): Promise<Delivery[]> =>
  eventually(() => deliveries.list(path, key), (d) => d.length >= count, { what: `${count} ${path} deliveries of ${key}`, timeoutMs });

const sequences = (list: Delivery[]) => list.map((d) => d.sequence);
const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

beforeAll(() => {
  out = stackOutputs('RelayTest');
  outbox = new Outbox({ client: ddb, tableName: out.TableName!, source: RELAY_TEST_SOURCE, retentionSeconds: 3600 });
  deliveries = new DeliveryLog(ddb, out.DeliveriesTableName!);
});

describe('transactional outbox and relay, on the local cloud', () => {
  it('delivers 3 keys × 50 interleaved events to the FIFO subscriber in per-key order, each once', async () => {
    // arrange
    const keys = [unique('k1'), unique('k2'), unique('k3')];

    // act: the three aggregates are written concurrently, so their events interleave in the stream
    await Promise.all(keys.map((key) => commitCounter(key, 50)));

    // assert
    for (const key of keys) {
      const got = await waitForDeliveries('ordered', key, 50, 90_000);
      expect(sequences(got)).toEqual(oneTo(50));
    }
  });

  it('keeps the outbox as the log: one Query returns a key’s events in commit order', async () => {
    const key = unique('log');
    await commitCounter(key, 12);
    const log = await ddb.send(new QueryCommand({ TableName: out.TableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: marshall({ ':pk': outboxPartitionKey(key) }), ConsistentRead: true }));
    expect(log.Items?.map((item) => Number(item.sequence?.N))).toEqual(oneTo(12));
  });

  it('a version conflict throws ConcurrencyError and writes neither the state nor the event', async () => {
    // arrange: the aggregate is at version 1
    const key = unique('conflict');
    await commitCounter(key, 1);

    // act: a second writer decided on version 0 too
    const error = await outbox
      .commit([{ id: key, key: { pk: `COUNTER#${key}`, sk: 'STATE' }, expectedVersion: 0, state: { value: 99 }, events: [{ type: 'test.counter.incremented', data: { value: 99 } }] }])
      .catch((e: unknown) => e);

    // assert
    expect(error).toBeInstanceOf(ConcurrencyError);
    expect(error).toMatchObject({ aggregateId: key, expectedVersion: 0, actualVersion: 1 });
    const log = await ddb.send(new QueryCommand({ TableName: out.TableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: marshall({ ':pk': outboxPartitionKey(key) }), ConsistentRead: true }));
    expect(log.Count).toBe(1);
    // a later event (sequence 2) proves the relay moved past: the conflicting one never arrives
    await commitCounter(key, 1, 1);
    const got = await waitForDeliveries('ordered', key, 2);
    expect(sequences(got)).toEqual([1, 2]);
  });

  it('a commit guard checks another item in the same transaction: a failed guard throws GuardFailedError and writes nothing', async () => {
    // arrange: the decision relies on a flag item saying "open"
    const key = unique('guarded');
    const flag = { pk: `FLAG#${key}`, sk: 'STATE' };
    await ddb.send(new PutItemCommand({ TableName: out.TableName, Item: marshall({ ...flag, open: true }) }));
    const commit = () =>
      outbox.commit([{ id: key, key: { pk: `COUNTER#${key}`, sk: 'STATE' }, expectedVersion: 0, state: { value: 1 }, events: [{ type: 'test.counter.incremented', data: { value: 1 } }] }], {
        guards: [{ key: flag, condition: '#open = :true', names: { '#open': 'open' }, values: { ':true': true }, reason: `counter ${key} is closed` }],
      });
    // act: the flag changes between the decision and the commit
    await ddb.send(new PutItemCommand({ TableName: out.TableName, Item: marshall({ ...flag, open: false }) }));
    const error = await commit().catch((e: unknown) => e);

    // assert: refused with the domain's reason; neither the state nor the event was written
    expect(error).toBeInstanceOf(GuardFailedError);
    expect(error).toMatchObject({ reason: `counter ${key} is closed` });
    const log = await ddb.send(new QueryCommand({ TableName: out.TableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: marshall({ ':pk': outboxPartitionKey(key) }), ConsistentRead: true }));
    expect(log.Count).toBe(0);
    // and with the flag open again, the same commit goes through
    await ddb.send(new PutItemCommand({ TableName: out.TableName, Item: marshall({ ...flag, open: true }) }));
    expect(await commit()).toHaveLength(1);
  });
});

describe('the outbox seals personal fields before anything is written', () => {
  it('commits events of a registered type with their personal fields sealed for the data subject', async () => {
    // arrange: a sealer that records what it sealed (the crypto is tested in privacy.test.ts)
    const sealedFor: string[] = [];
    const sealer: FieldSealer = {
      seal: async (subject, field, value) => (sealedFor.push(`${subject}/${field}`), `pd1:${Buffer.from(subject).toString('base64url')}:1:aXY:dGFn:${Buffer.from(value).toString('base64url')}`),
      open: async () => { throw new Error('not used'); },
    };
    const schema = z.object({ orderId: z.string(), customerName: personal(z.string()) });
    const privateOutbox = new Outbox({ client: ddb, tableName: out.TableName!, source: RELAY_TEST_SOURCE, privacy: { sealer, schemas: { 'test.order.placed': schema } } });
    const key = unique('sealed');

    // act
    await privateOutbox.commit([{ id: key, key: { pk: `ORDER#${key}`, sk: 'STATE' }, expectedVersion: 0, state: {}, events: [{ type: 'test.order.placed', data: { orderId: key, customerName: 'Ada Lovelace' }, dataSubject: 'customer-9' }] }]);

    // assert
    const log = await ddb.send(new QueryCommand({ TableName: out.TableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: marshall({ ':pk': outboxPartitionKey(key) }), ConsistentRead: true }));
    const stored = JSON.stringify(log.Items);
    expect(stored).not.toContain('Ada Lovelace');
    expect(stored).toContain('pd1:');
    expect(sealedFor).toEqual(['customer-9/customerName']);
  });
});

describe('relay and poison records', () => {
  it('dead-letters an outbox record it cannot parse, with the reason, and goes on with the next events', async () => {
    // arrange: a corrupt outbox item (written around the toolkit, as a buggy writer would), then valid events
    const key = unique('poison');
    const sqs = new SQSClient({});
    await ddb.send(
      new PutItemCommand({
        TableName: out.TableName,
        Item: marshall({ pk: outboxPartitionKey(key), sk: outboxSortKey(`${key}-corrupt`, 1), [OUTBOX.kindAttribute]: OUTBOX.kindValue, [OUTBOX.envelopeAttribute]: '{"specversion":"1.0","id":"not-a-uuid","data":{"secret":"s3cr3t"}}' }),
      }),
    );
    await commitCounter(key, 2);

    // act
    const delivered = await waitForDeliveries('ordered', key, 2);
    const dead: Message[] = [];
    await eventually(
      async () => {
        const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: out.RelayDeadLetterQueueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }));
        for (const message of got.Messages ?? []) {
          if (message.Body?.includes(key)) dead.push(message);
          await sqs.send(new DeleteMessageCommand({ QueueUrl: out.RelayDeadLetterQueueUrl, ReceiptHandle: message.ReceiptHandle! }));
        }
        return dead.length;
      },
      (n) => n >= 1,
      { what: 'the poison record in the relay dead-letter queue' },
    );

    // assert: later events were not held back; the DLQ names the record and the reason, not the payload
    expect(sequences(delivered)).toEqual([1, 2]);
    const body = JSON.parse(dead[0]!.Body!) as { keys: Record<string, string>; reason: string; errorName: string };
    expect(body.keys).toEqual({ pk: outboxPartitionKey(key), sk: outboxSortKey(`${key}-corrupt`, 1) });
    expect(body.errorName).toBe('InvalidEnvelopeError');
    expect(body.reason).toMatch(/id must be a UUID v7/);
    expect(dead[0]!.MessageAttributes?.errorName?.StringValue).toBe('InvalidEnvelopeError');
    expect(dead[0]!.Body).not.toContain('s3cr3t');
  });
});

describe('relay under a failing target', () => {
  const proxy = new FaultProxy(new URL(endpointUrl()));
  let originalEnv: Record<string, string> = {};

  async function setRelayEnv(variables: Record<string, string>): Promise<void> {
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: out.RelayFunctionName, Environment: { Variables: variables } }));
  }

  beforeAll(async () => {
    // Test setup only: the relay reaches EventBridge through the fault proxy (AWS SDK v3 reads the
    // service-specific AWS_ENDPOINT_URL_EVENTBRIDGE before AWS_ENDPOINT_URL). SQS cannot be faulted
    // this way: its client sends each request to the host of the queue URL.
    const url = await proxy.start();
    const config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: out.RelayFunctionName }));
    originalEnv = config.Environment?.Variables ?? {};
    await setRelayEnv({ ...originalEnv, AWS_ENDPOINT_URL_EVENTBRIDGE: url });
  });
  afterAll(async () => {
    await setRelayEnv(originalEnv);
    await proxy.stop();
  });

  it('delivers everything once the bus recovers; the batch retries leave no duplicate on the FIFO path', async () => {
    // arrange: the bus answers 503 to the relay
    proxy.failing = true;
    const keys = [unique('f1'), unique('f2')];

    // act: commit while the bus fails; the relay retries, gives up on the batch, and the mapping
    // retries the batch (re-sending to the FIFO queue what it had already sent); then recover
    await Promise.all(keys.map((key) => commitCounter(key, 10)));
    await eventually(async () => proxy.refused, (n) => n >= 20, { what: 'the relay to retry against the failing bus' });
    const fanoutWhileFailing = await Promise.all(keys.map((key) => deliveries.list('fanout', key)));
    proxy.failing = false;

    // assert
    expect(fanoutWhileFailing.flat()).toEqual([]);
    for (const key of keys) {
      const ordered = await waitForDeliveries('ordered', key, 10, 120_000);
      expect(sequences(ordered)).toEqual(oneTo(10));
      const fanout = await waitForDeliveries('fanout', key, 10, 120_000);
      expect(new Set(sequences(fanout))).toEqual(new Set(oneTo(10)));
    }
    expect(proxy.forwarded).toBeGreaterThan(0);
  });
});
