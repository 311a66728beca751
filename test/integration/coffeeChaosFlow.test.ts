import { DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand, ScanCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCoffeeFlow } from '../chaos/coffeeFlow';
import type { FlowContext, InvariantResult } from '../chaos/flow';
import { stackOutputs } from '../support/outputs';

const ddb = new DynamoDBClient({});
const flow = createCoffeeFlow({ settleTimeoutMs: 120_000, commandTimeoutMs: 60_000, cancelEvery: 2 });
const lines: string[] = [];
let ctx: FlowContext;

const byInvariant = (results: InvariantResult[], prefix: string): InvariantResult => {
  const found = results.find((r) => r.invariant.startsWith(prefix));
  if (!found) throw new Error(`no invariant "${prefix}…" in ${results.map((r) => r.invariant).join(', ')}`);
  return found;
};

beforeAll(() => {
  ctx = { outputs: stackOutputs('CoffeeShop'), endpoint: process.env.AWS_ENDPOINT_URL ?? 'http://127.0.0.1:4566', log: (line) => lines.push(line) };
});

/** The checker of the chaos suite's coffee flow, proven on the emulator without faults: it passes when all is well, and fails when a record is wrong. */
describe('the coffee chaos flow (no faults)', () => {
  it('drives orders through every stage, with poison, and finds every invariant held from the consumers’ records', async () => {
    // arrange / act: 40 events over 8 concurrent lanes, every second order cancelled, 2 poison messages
    let submitted = 0;
    await flow.drive(ctx, { events: 40, keys: 8, poison: 2, onProgress: (n) => (submitted = n) });
    const results = await flow.check(ctx);

    // assert: five invariants, each checked and none violated
    expect(submitted).toBeGreaterThanOrEqual(40);
    expect(results.map((r) => r.invariant)).toHaveLength(5);
    for (const result of results) {
      expect(result.violations, `${result.invariant}: ${result.detail ?? ''}\n${lines.join('\n')}`).toBe(0);
      expect(result.checked, result.invariant).toBeGreaterThan(0);
    }
    expect(byInvariant(results, 'poison').checked).toBe(2);
    expect(byInvariant(results, 'redriven').checked).toBeGreaterThanOrEqual(2 + 3); // both poison back, and the barista group's 3 checks
  }, 900_000);

  it('reports the records it finds corrupted: a board row lost, an event counted twice, a group applied out of order', async () => {
    // arrange: corrupt two of this run's board rows …
    const { Items = [] } = await ddb.send(
      new ScanCommand({ TableName: ctx.outputs.BoardTableName, ConsistentRead: true, FilterExpression: 'contains(pk, :run)', ExpressionAttributeValues: marshall({ ':run': flow.runId }) }),
    );
    const rows = Items.map((item) => unmarshall(item) as { pk: string; state: { status: string } });
    const served = rows.filter((row) => row.state.status === 'served');
    expect(served.length).toBeGreaterThanOrEqual(2);
    const [deleted, bumped] = [served[0]!.pk, served[1]!.pk];
    // The other tests share this emulator (the demo compares the board with the analytics): every
    // record corrupted here is put back as it was, whatever happens.
    const originals: Array<{ table: string; item: Record<string, AttributeValue> }> = Items.filter((item) => [deleted, bumped].includes(item.pk!.S!)).map((item) => ({ table: ctx.outputs.BoardTableName!, item }));
    try {
      await ddb.send(new DeleteItemCommand({ TableName: ctx.outputs.BoardTableName, Key: marshall({ pk: deleted }) }));
      await ddb.send(
        new UpdateItemCommand({ TableName: ctx.outputs.BoardTableName, Key: marshall({ pk: bumped }), UpdateExpression: 'SET revision = revision + :one', ExpressionAttributeValues: marshall({ ':one': 1 }) }),
      );
      // … and make the barista's inbox item of one cancelled order's placed event later than its cancellation's
      // (not lane 0's first order: its cancellation was held behind the poison and applied only at the redrive)
      const reordered = rows.find((row) => row.state.status === 'cancelled' && !row.pk.endsWith('-k0-0'))!.pk;
      const logged = await ddb.send(new QueryCommand({ TableName: ctx.outputs.OrdersTableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: marshall({ ':pk': `OUTBOX#${reordered}` }), ConsistentRead: true }));
      const placedId = (logged.Items ?? []).map((item) => unmarshall(item)).find((item) => item.type === 'coffee.order.placed')!.id as string;
      const inbox = { id: { S: `inbox#${placedId}` } };
      const record = await ddb.send(new GetItemCommand({ TableName: ctx.outputs.BaristaIdempotencyTableName, Key: inbox, ConsistentRead: true }));
      expect(record.Item).toBeDefined();
      originals.push({ table: ctx.outputs.BaristaIdempotencyTableName!, item: record.Item! });
      await ddb.send(
        new UpdateItemCommand({
          TableName: ctx.outputs.BaristaIdempotencyTableName,
          Key: inbox,
          UpdateExpression: 'SET appliedAt = :later',
          ExpressionAttributeValues: marshall({ ':later': new Date(Date.now() + 3_600_000).toISOString() }),
        }),
      );

      // act
      const results = await flow.check(ctx);

      // assert: each corruption is caught by the invariant it breaks, naming the order
      const lost = byInvariant(results, '0 events lost');
      expect(lost.violations).toBeGreaterThanOrEqual(1);
      expect(lost.detail).toContain(deleted);
      const twice = byInvariant(results, '0 effects applied twice');
      expect(twice.violations).toBe(1);
      expect(twice.detail).toContain(bumped);
      const order = byInvariant(results, '0 per-key order violations');
      expect(order.violations).toBe(1);
      expect(order.detail).toContain(reordered);
    } finally {
      for (const { table, item } of originals) await ddb.send(new PutItemCommand({ TableName: table, Item: item }));
    }
  }, 900_000);
});
