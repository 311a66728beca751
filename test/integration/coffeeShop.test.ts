import { BatchWriteItemCommand, DynamoDBClient, GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { InvokeCommand, LambdaClient, ListEventSourceMappingsCommand, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { WAIT_TIME_EVENTS } from '../../functions/coffee/analytics/waitTimes';
import { queueKey } from '../../functions/coffee/barista/ticket';
import type { ProbeReport } from '../../functions/coffee/probe/runProbe';
import { replay } from '../../functions/toolkit/replay';
import { ProjectionReader } from '../../functions/toolkit/projection';
import { BOARD_EXPIRES_AT, BOARD_OPEN_INDEX, CLOSED_ROW_RETENTION_SECONDS, OPEN_STAGE_ATTRIBUTE } from '../../functions/coffee/board/board';
import { CoffeeClient, type BoardRow } from '../../scripts/demo/coffeeClient';
import { eventually, unique } from '../support/eventually';
import { stackOutputs } from '../support/outputs';
import { coffeeShop } from '../support/actors';

const ddb = new DynamoDBClient({});
const sqs = new SQSClient({});
const lambda = new LambdaClient({});
let out: Record<string, string>;
let shop: CoffeeClient;

beforeAll(async () => {
  out = stackOutputs('CoffeeShop');
  shop = await coffeeShop();
});

const rowOf = async (orderId: string): Promise<BoardRow | undefined> => {
  const answer = await shop.boardRow(orderId);
  return answer.status === 200 ? answer.body : undefined;
};
const boardShows = async (orderId: string, status: BoardRow['status']): Promise<BoardRow> =>
  (await eventually(() => rowOf(orderId), (row) => row?.status === status, { what: `order ${orderId} ${status} on the board`, timeoutMs: 60_000 }))!;

/** Places an order and waits until the barista has it in their queue and the board shows it. */
async function placeAndQueue(orderId: string): Promise<void> {
  expect(await shop.placeOrder({ orderId, lines: [{ product: 'flat-white', size: 'small' }] })).toMatchObject({ status: 201 });
  await eventually(() => ddb.send(new GetItemCommand({ TableName: out.BaristaTableName, Key: marshall(queueKey(orderId)), ConsistentRead: true })), (r) => r.Item !== undefined, { what: `order ${orderId} in the barista's queue` });
  await boardShows(orderId, 'queued');
}

/** Retries a staff action while the service has not heard of the order yet (404/NotReady), as staff would. */
const whenKnown = (action: () => ReturnType<CoffeeClient['call']>) =>
  eventually(action, (answer) => !(answer.status === 404 || answer.body.error === 'NotReady'), { what: 'the service to know the order', timeoutMs: 30_000 });

async function emptyTable(tableName: string): Promise<void> {
  const { Items = [] } = await ddb.send(new ScanCommand({ TableName: tableName, ProjectionExpression: 'pk', ConsistentRead: true }));
  for (let i = 0; i < Items.length; i += 25) {
    await ddb.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: Items.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } })) } }));
  }
}

async function setMapping(functionName: string, enabled: boolean): Promise<void> {
  const [mapping] = (await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: functionName }))).EventSourceMappings ?? [];
  await lambda.send(new UpdateEventSourceMappingCommand({ UUID: mapping!.UUID, Enabled: enabled }));
}

describe('the coffee shop, end to end on the local cloud', () => {
  it('an order goes placed → brewing → ready → served through three services, and the board follows it', async () => {
    const orderId = unique('order');
    expect(await shop.placeOrder({ orderId, lines: [{ product: 'latte', size: 'large', quantity: 2 }] })).toMatchObject({ status: 201, body: { status: 'placed', totalCents: 950 } });
    expect(await boardShows(orderId, 'queued')).toMatchObject({ summary: '2× large latte', totalCents: 950, revision: 1 });

    expect(await whenKnown(() => shop.startBrew(orderId))).toMatchObject({ status: 200, body: { status: 'brewing' } });
    await boardShows(orderId, 'brewing');
    expect(await whenKnown(() => shop.finishBrew(orderId))).toMatchObject({ status: 200, body: { status: 'finished' } });
    await boardShows(orderId, 'ready');
    expect(await whenKnown(() => shop.serve(orderId))).toMatchObject({ status: 200 });
    const served = await boardShows(orderId, 'served');

    expect(served).toMatchObject({ revision: 4, overdue: false, lastEvent: { type: 'coffee.order.served', source: 'coffee.counter', sequence: 1 } });
    const times = [served.placedAt, served.brewingAt, served.readyAt, served.servedAt].map((t) => Date.parse(t!));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    // Once served, it cannot be cancelled, served again or brewed again.
    expect(await shop.cancel(orderId)).toMatchObject({ status: 409, body: { error: 'OrderNotCancellable' } });
    expect(await shop.serve(orderId)).toMatchObject({ status: 409, body: { error: 'AlreadyServed' } });
    expect(await shop.startBrew(orderId)).toMatchObject({ status: 409, body: { error: 'AlreadyStarted' } });
  });

  it('keeps an open order in the board’s open-orders index under its stage, and a served one out of it, expiring a day after it was served', async () => {
    // arrange: one order left queued, one served
    const [open, closed] = [unique('open'), unique('closed')];
    for (const orderId of [open, closed]) expect(await shop.placeOrder({ orderId, lines: [{ product: 'mocha' }] })).toMatchObject({ status: 201 });
    expect(await whenKnown(() => shop.startBrew(closed))).toMatchObject({ status: 200 });
    expect(await whenKnown(() => shop.finishBrew(closed))).toMatchObject({ status: 200 });
    expect(await whenKnown(() => shop.serve(closed))).toMatchObject({ status: 200 });
    await boardShows(open, 'queued');
    const served = await boardShows(closed, 'served');

    // act: what the business probe reads (the index), and the served row's item
    const reader = new ProjectionReader<{ orderId: string }>({ dynamodb: ddb, tableName: out.BoardTableName! });
    const indexed = async (stage: string) => {
      const ids: string[] = [];
      for await (const row of reader.byIndex(BOARD_OPEN_INDEX, OPEN_STAGE_ATTRIBUTE, stage)) ids.push(row.state.orderId);
      return ids;
    };
    const queued = await eventually(() => indexed('queued'), (ids) => ids.includes(open), { what: `order ${open} in the open-orders index` });
    const { Item } = await ddb.send(new GetItemCommand({ TableName: out.BoardTableName, Key: marshall({ pk: closed }), ConsistentRead: true }));

    // assert
    expect(queued).not.toContain(closed);
    for (const stage of ['brewing', 'ready']) expect(await indexed(stage)).not.toContain(closed);
    const item = unmarshall(Item!);
    expect(item[OPEN_STAGE_ATTRIBUTE]).toBeUndefined();
    expect(item[BOARD_EXPIRES_AT]).toBe(Math.floor(Date.parse(served.servedAt!) / 1000) + CLOSED_ROW_RETENTION_SECONDS);
  });

  it('serves the board a page at a time: each page bounded, the cursors lead through every row once; a bad limit or cursor is a 400', async () => {
    // arrange: at least three rows
    const orderIds = [unique('page'), unique('page'), unique('page')];
    for (const orderId of orderIds) expect(await shop.placeOrder({ orderId, lines: [{ product: 'espresso' }] })).toMatchObject({ status: 201 });
    for (const orderId of orderIds) await boardShows(orderId, 'queued');

    // act: pages of at most 2 rows, followed to the end
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await shop.call<{ rows: BoardRow[]; cursor?: string }>('GET', `/board?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, undefined, null);
      expect(page.status).toBe(200);
      expect(page.body.rows.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.rows.map((row) => row.orderId));
      cursor = page.body.cursor;
      pages++;
    } while (cursor !== undefined && pages < 10_000);

    // assert: every row once, and the same rows as the whole board
    expect(pages).toBeGreaterThan(1);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(orderIds));
    expect(new Set(seen)).toEqual(new Set((await shop.board()).map((row) => row.orderId)));
    for (const query of ['limit=0', 'limit=201', 'limit=x', 'cursor=bm90LWEta2V5', 'cursor=%25%25', 'other=1']) {
      expect(await shop.call('GET', `/board?${query}`, undefined, null), query).toMatchObject({ status: 400, body: { error: 'InvalidQuery' } });
    }
  });

  it('rejects bad commands with a 4xx that says what is wrong, and writes nothing', async () => {
    const malformed = await shop.placeOrder({ orderId: unique('bad'), lines: [{ product: 'tea', quantity: 0 }] });
    expect(malformed).toMatchObject({ status: 400, body: { error: 'InvalidCommand' } });
    expect(malformed.body.message).toMatch(/lines\.0\.product/);
    expect(malformed.body.message).toMatch(/lines\.0\.quantity/);
    expect(await shop.placeOrder('{"orderId":')).toMatchObject({ status: 400, body: { error: 'InvalidJson' } });
    // A body over the limit is refused before it is parsed, even a valid order padded with whitespace;
    // nothing was written: the id is still free for another order.
    const hugeId = unique('huge');
    const padded = JSON.stringify({ orderId: hugeId, lines: [{ product: 'latte' }] }) + ' '.repeat(9_000);
    expect(await shop.placeOrder(padded)).toMatchObject({ status: 413, body: { error: 'PayloadTooLarge', message: expect.stringMatching(/is 90\d\d bytes; at most 8192 are accepted/) } });
    expect(await shop.placeOrder({ orderId: hugeId, lines: [{ product: 'espresso', quantity: 2 }] })).toMatchObject({ status: 201, body: { status: 'placed' } });
    expect(await shop.cancel('no-such-order')).toMatchObject({ status: 404, body: { error: 'OrderNotFound' } });
    expect(await shop.cancel('x')).toMatchObject({ status: 400, body: { error: 'InvalidPath' } });
    expect(await shop.boardRow(unique('never'))).toMatchObject({ status: 404 });
  });

  it('a retried order (same id, same request) is answered as the first time; the same id with another request is a 409', async () => {
    // arrange: an order for a customer (name and email sealed in the order)
    const orderId = unique('retry');
    const customer = { customerId: unique('cust'), name: 'Ada Lovelace', email: 'ada@example.com' };
    const order = { orderId, lines: [{ product: 'mocha', size: 'large', quantity: 2 }, { product: 'espresso' }], customer };
    const first = await shop.placeOrder(order);
    expect(first).toMatchObject({ status: 201, body: { orderId, status: 'placed', totalCents: 1300 } });

    // act + assert: the client's retry (its first answer lost), with the defaults left out or written out
    expect(await shop.placeOrder(order)).toEqual(first);
    expect(await shop.placeOrder({ ...order, lines: [order.lines[0], { product: 'espresso', size: 'medium', quantity: 1 }] })).toEqual(first);
    // … and other requests under the same id: other lines, another customer, another name (personal, compared opened)
    for (const other of [
      { ...order, lines: [{ product: 'mocha', size: 'large', quantity: 3 }, { product: 'espresso' }] },
      { ...order, lines: [order.lines[0]] },
      { ...order, lines: [{ product: 'espresso' }, order.lines[0]] },
      { orderId, lines: order.lines },
      { ...order, customer: { ...customer, customerId: unique('cust') } },
      { ...order, customer: { ...customer, name: 'Ada King' } },
      { ...order, customer: { customerId: customer.customerId, name: customer.name } },
    ]) {
      const answer = await shop.placeOrder(other);
      expect(answer, JSON.stringify(other.lines)).toMatchObject({ status: 409, body: { error: 'OrderIdReused', message: expect.stringMatching(new RegExp(`order id ${orderId} was already used for another request`)) } });
      expect(answer.body.message).not.toMatch(/Ada|example\.com/);
    }
    await boardShows(orderId, 'queued');
  });

  it('a cancel racing the barista’s start ends in exactly one outcome, everywhere', async () => {
    const orderIds = Array.from({ length: 6 }, () => unique('race'));
    for (const orderId of orderIds) await placeAndQueue(orderId);

    // act: for each order, the customer cancels while the barista starts it
    const races = await Promise.all(orderIds.map(async (orderId) => {
      const [cancel, start] = await Promise.all([shop.cancel(orderId), shop.startBrew(orderId)]);
      return { orderId, cancel, start };
    }));

    // assert: exactly one of the two commits; a cancelled order is never started nor handed over
    for (const { orderId, cancel, start } of races) {
      expect([cancel.status, start.status].sort(), `${orderId}: cancel ${cancel.status}, start ${start.status}`).toEqual([200, 409]);
      if (cancel.status === 200) {
        expect(start).toMatchObject({ status: 409, body: { message: expect.stringMatching(/was cancelled; do not brew it/) } });
        expect(await shop.finishBrew(orderId)).toMatchObject({ status: 404, body: { error: 'NotStarted' } });
        const serve = await shop.serve(orderId);
        expect(serve.status, `${orderId} was cancelled but served: ${JSON.stringify(serve.body)}`).not.toBe(200);
        expect(await boardShows(orderId, 'cancelled')).toMatchObject({ status: 'cancelled' });
      } else {
        expect(cancel.body).toMatchObject({ error: 'OrderNotCancellable', message: expect.stringMatching(/already being brewed/) });
        expect(await whenKnown(() => shop.finishBrew(orderId))).toMatchObject({ status: 200 });
        expect(await whenKnown(() => shop.serve(orderId))).toMatchObject({ status: 200 });
        await boardShows(orderId, 'served');
      }
    }
  });

  it('a start is refused for an order cancelled before the barista heard of the cancel (one arbiter for cancel and start)', async () => {
    // arrange: the barista knows the order, then stops hearing from the orders service
    const orderId = unique('unheard');
    await placeAndQueue(orderId);
    await setMapping(out.BaristaQueueFunctionName!, false);
    try {
      // act: the cancel is accepted; the barista, whose queue still says "placed", tries to start it
      expect(await shop.cancel(orderId)).toMatchObject({ status: 200 });
      const start = await shop.startBrew(orderId);

      // assert: the start checked the order itself, and lost
      expect(start).toMatchObject({ status: 409, body: { message: expect.stringMatching(/was cancelled; do not brew it/) } });
    } finally {
      await setMapping(out.BaristaQueueFunctionName!, true);
    }
    expect(await boardShows(orderId, 'cancelled')).toMatchObject({ status: 'cancelled' });
  });

  it('duplicate and reordered deliveries do not corrupt the board', async () => {
    const orderId = unique('shuffled');
    await placeAndQueue(orderId);
    // arrange: hold the board's deliveries while the order goes through every stage
    await setMapping(out.BoardProjectionFunctionName!, false);
    const held: Message[] = [];
    try {
      expect(await whenKnown(() => shop.startBrew(orderId))).toMatchObject({ status: 200 });
      expect(await whenKnown(() => shop.finishBrew(orderId))).toMatchObject({ status: 200 });
      expect(await whenKnown(() => shop.serve(orderId))).toMatchObject({ status: 200 });
      // take the three held deliveries of this order off the queue …
      await eventually(async () => {
        const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: out.BoardQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 300 }));
        held.push(...Messages.filter((m) => m.Body?.includes(orderId)));
        return held.length;
      }, (n) => n >= 3, { what: 'the held deliveries' });
      // … and put them back last-first, each twice
      const shuffled = [...held].reverse().flatMap((m, i) => [m, m].map((copy, j) => ({ Id: `${i}-${j}`, MessageBody: copy.Body! })));
      await sqs.send(new SendMessageBatchCommand({ QueueUrl: out.BoardQueueUrl, Entries: shuffled }));
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: out.BoardQueueUrl, Entries: held.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
    } finally {
      await setMapping(out.BoardProjectionFunctionName!, true);
    }

    // assert: every event applied once, in its service's order (the barista's two caught up from its log)
    const row = await boardShows(orderId, 'served');
    expect(row.revision).toBe(4);
    expect(row).toMatchObject({ brewingAt: expect.any(String), readyAt: expect.any(String), servedAt: expect.any(String), overdue: false });
    await new Promise((resolve) => setTimeout(resolve, 2000)); // the last duplicates land
    expect((await rowOf(orderId))?.revision).toBe(4);
  });

  it('the business probe flags an order stuck at the barista, once, and the board shows it overdue', async () => {
    const orderId = unique('stuck');
    await placeAndQueue(orderId);
    expect(await whenKnown(() => shop.startBrew(orderId))).toMatchObject({ status: 200 });
    await boardShows(orderId, 'brewing');
    await new Promise((resolve) => setTimeout(resolve, 2100));

    const probe = async (): Promise<ProbeReport> => {
      const response = await lambda.send(new InvokeCommand({ FunctionName: out.ProbeFunctionName, Payload: JSON.stringify({ overdueAfterSeconds: 1 }) }));
      expect(response.FunctionError).toBeUndefined();
      return JSON.parse(Buffer.from(response.Payload!).toString()) as ProbeReport;
    };
    const first = await probe();
    expect(first.overdue).toContainEqual(expect.objectContaining({ orderId, stage: 'brewing' }));
    expect(first.stageAges.brewing.count).toBeGreaterThanOrEqual(1);
    expect(await eventually(() => rowOf(orderId), (row) => row?.overdue === true, { what: 'the board to show the order overdue' })).toMatchObject({ status: 'brewing', overdue: true });

    const second = await probe();
    expect(second.overdue.map((o) => o.orderId)).not.toContain(orderId);
  });

  it('a late-comer rebuilds from the logs while live orders flow, and equals the live board: no gap, no double count', async () => {
    // arrange: the analytics start empty, as if deployed now (the board has every order so far)
    await emptyTable(out.WaitTimesTableName!);

    // act: replay the orders' and counter's logs while two more orders are served live
    const live = Array.from({ length: 2 }, () => unique('live'));
    const serveLive = (async () => {
      for (const orderId of live) {
        await placeAndQueue(orderId);
        expect(await whenKnown(() => shop.startBrew(orderId))).toMatchObject({ status: 200 });
        expect(await whenKnown(() => shop.finishBrew(orderId))).toMatchObject({ status: 200 });
        expect(await whenKnown(() => shop.serve(orderId))).toMatchObject({ status: 200 });
      }
    })();
    const report = await replay({ dynamodb: ddb, sqs, logs: [out.OrdersTableName!, out.CounterTableName!], queueUrl: out.WaitTimesQueueUrl!, types: Object.keys(WAIT_TIME_EVENTS) });
    await serveLive;
    for (const orderId of live) await boardShows(orderId, 'served');
    expect(report.sent).toBeGreaterThan(0);

    // assert: the rebuilt totals equal what the live board says
    const expected = (rows: BoardRow[]) => ({
      served: rows.filter((r) => r.servedAt && r.placedAt).length,
      totalWaitMs: rows.filter((r) => r.servedAt && r.placedAt).reduce((sum, r) => sum + Date.parse(r.servedAt!) - Date.parse(r.placedAt!), 0),
      cancelled: rows.filter((r) => r.cancelledAt).length,
    });
    let want = expected(await shop.board());
    await eventually(async () => {
      want = expected(await shop.board());
      return (await shop.waitTimes()).body;
    }, (got) => got.served === want.served && got.totalWaitMs === want.totalWaitMs && got.cancelled === want.cancelled, { what: 'the rebuilt analytics to equal the board', timeoutMs: 90_000 });
  });
});
