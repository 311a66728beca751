import { DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { GetFunctionConfigurationCommand, InvokeCommand, LambdaClient, ListEventSourceMappingsCommand, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import { SQSClient } from '@aws-sdk/client-sqs';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { queueKey } from '../../functions/coffee/barista/ticket';
import { CoffeeClient } from '../../scripts/demo/coffeeClient';
import { outboxPartitionKey } from '../../functions/toolkit/outbox';
import { randomBytes } from 'node:crypto';
import { auditSubject, discoverStores, erasureAggregate, formatSealed, PersonalDataSealer, PRIVACY_ENV } from '../../functions/toolkit/privacy';
import { eventually, unique } from '../support/eventually';
import { stackOutputs } from '../support/outputs';
import { coffeeShop } from '../support/actors';

const ddb = new DynamoDBClient({});
const lambda = new LambdaClient({});
let coffee: Record<string, string>;

const invoke = async (functionName: string, payload: unknown) =>
  JSON.parse(Buffer.from((await lambda.send(new InvokeCommand({ FunctionName: functionName, Payload: JSON.stringify(payload) }))).Payload!).toString());

let shop: CoffeeClient;

beforeAll(async () => {
  coffee = stackOutputs('CoffeeShop');
  shop = await coffeeShop();
});

/** The events committed for an aggregate of the orders service (its outbox log), in order. */
const committedEvents = (aggregateId: string) =>
  ddb.send(new QueryCommand({ TableName: coffee.OrdersTableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: marshall({ ':pk': outboxPartitionKey(aggregateId) }), ConsistentRead: true }));

/** What the barista's queue (an ordered consumer that opens the customer's name) recorded of an order. */
const baristaQueued = async (orderId: string): Promise<{ customer?: string } | undefined> => {
  const { Item } = await ddb.send(new GetItemCommand({ TableName: coffee.BaristaTableName, Key: marshall(queueKey(orderId)), ConsistentRead: true }));
  return Item ? (unmarshall(Item) as { customer?: string }) : undefined;
};

describe('the coffee shop keeps customers’ personal data sealed, and erasure is real', () => {
  it('seals the customer in the order and its event, erases them once, and leaves nothing readable', async () => {
    // arrange
    const customerId = unique('cust');
    const name = `Ada ${unique('name')}`;
    const email = `${unique('ada')}@example.com`;
    const orderId = unique('order');

    // act 1: place an order for the customer; both consumers receive it
    expect(await shop.placeOrder({ orderId, lines: [{ product: 'mocha' }], customer: { customerId, name, email } })).toMatchObject({ status: 201 });
    await eventually(() => baristaQueued(orderId), (q) => q?.customer === 'known', { what: 'the order queued at the barista, the customer known' });

    // assert 1: the committed event holds the customer only sealed
    const log = await committedEvents(orderId);
    const envelope = JSON.parse(unmarshall(log.Items![0]!).envelope) as { data: { customer: { customerId: string; name: string; email: string } } };
    expect(envelope.data.customer.customerId).toBe(customerId);
    expect(envelope.data.customer.name).toMatch(/^pd1:/);
    expect(JSON.stringify(envelope)).not.toContain(name);

    // the audit, with the vault's own configuration (as the ops CLI reads it from the erase function)
    const configuration = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: coffee.EraseCustomerFunctionName }));
    const env = configuration.Environment?.Variables ?? {};
    expect(env[PRIVACY_ENV.keyTableName]).toBeDefined();
    const sealer = PersonalDataSealer.fromEnvironment({ env, dynamodb: ddb });
    const stores = await discoverStores(ddb, new SQSClient({}), (n) => n.startsWith('CoffeeShop'));
    const before = await auditSubject({ subject: customerId, stores, canOpen: (s) => sealer.canOpen(s), knownValues: [name, email] });
    expect(before.readable).toBeGreaterThan(0);
    expect(before.plaintext).toBe(0);

    // act 2: erase the customer, twice
    const first = await invoke(coffee.EraseCustomerFunctionName!, { subject: customerId, erasedBy: 'integration-test' });
    const second = await invoke(coffee.EraseCustomerFunctionName!, { subject: customerId, erasedBy: 'integration-test' });

    // assert 2: one erasure, one event; nothing of the customer can be read anywhere
    expect(first).toMatchObject({ status: 'erased', alreadyErased: false, published: true });
    expect(second).toMatchObject({ status: 'erased', alreadyErased: true, published: false });
    const erasedEvents = await committedEvents(erasureAggregate(customerId).id);
    expect(erasedEvents.Count).toBe(1);
    const after = await auditSubject({ subject: customerId, stores: await discoverStores(ddb, new SQSClient({}), (n) => n.startsWith('CoffeeShop')), canOpen: (s) => sealer.canOpen(s), knownValues: [name, email] });
    expect(after.stores.reduce((sum, s) => sum + s.sealed, 0)).toBeGreaterThanOrEqual(before.stores.reduce((sum, s) => sum + s.sealed, 0));
    expect(after).toMatchObject({ readable: 0, plaintext: 0, clean: true });
  });

  it('an event published before erasure and consumed after it arrives with the customer redacted, processed once, never retried', async () => {
    // arrange: the fan-out consumer is paused, so the order waits in its queue across the erasure
    const [mapping] = (await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: coffee.BaristaQueueFunctionName }))).EventSourceMappings ?? [];
    const setConsuming = (Enabled: boolean) => lambda.send(new UpdateEventSourceMappingCommand({ UUID: mapping!.UUID, Enabled }));
    const customerId = unique('late');
    const orderId = unique('order');
    await setConsuming(false);
    try {
      expect(await shop.placeOrder({ orderId, lines: [{ product: 'latte' }], customer: { customerId, name: 'Late Reader' } })).toMatchObject({ status: 201 });
      // committed to the log (and so published) while the customer still existed
      await eventually(() => committedEvents(orderId), (r) => r.Count === 1, { what: 'the order in the log' });

      // act: erase, then let the paused consumer read the order
      expect(await invoke(coffee.EraseCustomerFunctionName!, { subject: customerId, erasedBy: 'integration-test' })).toMatchObject({ published: true });
    } finally {
      await setConsuming(true);
    }

    // assert: delivered once, the customer's fields redacted (SubjectErasedError handled as documented)
    const queued = await eventually(() => baristaQueued(orderId), (q) => q !== undefined, { what: 'the late delivery to the barista', timeoutMs: 60_000 });
    expect(queued?.customer).toBe('erased');
  });

  it('seals a customer name shaped like a sealed value like any name: the barista still knows the customer, nothing is dead-lettered', async () => {
    // arrange: the customer has a key (a first order); the attacker writes a well-formed sealed value
    // for them, with bytes of their choosing and a tag they cannot compute
    const customerId = unique('cust');
    const first = unique('order');
    expect(await shop.placeOrder({ orderId: first, lines: [{ product: 'mocha' }], customer: { customerId, name: 'Ada', email: `${unique('ada')}@example.com` } })).toMatchObject({ status: 201 });
    const forged = formatSealed({ subject: customerId, keyVersion: 1, iv: randomBytes(12), tag: randomBytes(16), ciphertext: Buffer.from('"Robert"') });
    const orderId = unique('order');

    // act
    const placed = await shop.placeOrder({ orderId, lines: [{ product: 'latte' }], customer: { customerId, name: forged, email: `${unique('bob')}@example.com` } });

    // assert: accepted, committed sealed anew (not as sent), and the barista's consumer opened it
    expect(placed).toMatchObject({ status: 201 });
    const log = await committedEvents(orderId);
    const envelope = JSON.parse(unmarshall(log.Items![0]!).envelope) as { data: { customer: { name: string } } };
    expect(envelope.data.customer.name).toMatch(/^pd1:/);
    expect(envelope.data.customer.name).not.toBe(forged);
    await eventually(() => baristaQueued(orderId), (q) => q?.customer === 'known', { what: 'the order queued at the barista, the customer known' });
  });

  it('refuses a customer name with a bidirectional override with a 400 that says why, and places nothing', async () => {
    const orderId = unique('order');
    const refused = await shop.placeOrder({ orderId, lines: [{ product: 'mocha' }], customer: { customerId: unique('cust'), name: 'Ada\u202eecalovoL' } });
    expect(refused).toMatchObject({ status: 400, body: { error: 'InvalidCommand', message: expect.stringMatching(/customer\.name: .*bidirectional control U\+202E/) } });
    const log = await committedEvents(orderId);
    expect(log.Count).toBe(0);
  });

  it('refuses an order for an erased customer with a 410 that says why, not a 500 that invites a retry', async () => {
    // arrange
    const customerId = unique('gone');
    expect(await shop.placeOrder({ orderId: unique('order'), lines: [{ product: 'latte' }], customer: { customerId, name: 'Gone Soon' } })).toMatchObject({ status: 201 });
    expect(await invoke(coffee.EraseCustomerFunctionName!, { subject: customerId, erasedBy: 'integration-test' })).toMatchObject({ status: 'erased' });

    // act: the API sees the tombstone once its cached key is re-checked (PRIVACY_TOMBSTONE_CHECK_SECONDS)
    const answer = await eventually(
      () => shop.placeOrder({ orderId: unique('order'), lines: [{ product: 'latte' }], customer: { customerId, name: 'Gone Soon' } }),
      (a) => a.status !== 201,
      { what: 'the API to refuse sealing for the erased customer', timeoutMs: 30_000 },
    );

    // assert
    expect(answer).toMatchObject({ status: 410, body: { error: 'SubjectErasedError', message: expect.stringMatching(/was erased/) } });
  });

  it('rejects an erase command without a subject, saying so', async () => {
    expect(await invoke(coffee.EraseCustomerFunctionName!, { erasedBy: 'x' })).toMatchObject({ status: 'rejected', error: 'InvalidCommand', message: expect.stringMatching(/subject/) });
  });
});
