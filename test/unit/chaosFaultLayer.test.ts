/**
 * The chaos fault layer's new faults, seen by the real AWS SDK v3 clients (no cloud: a loopback
 * stand-in plays the upstream and records what reaches it). Pins the wire shape of the injected
 * `TransactionCanceledException` as the JS SDK parses it, and what late answers change on the wire.
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient, TransactionCanceledException, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ANSWER_REPEAT_WINDOW_MS, FaultLayer, transactionConflictBody, type LayerRates } from '../chaos/faultLayer';

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const region = 'us-east-1';
const NONE: LayerRates = { partialBatch: 0, lostResponse: 0, duplicate: 0, conflict: 0 };

interface Received {
  readonly target: string;
  readonly body: Record<string, unknown>;
}

/** A loopback stand-in for the cloud: answers SendMessage, PutEvents and TransactWriteItems with success, and records each request. */
class Upstream {
  readonly received: Received[] = [];
  private server: http.Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const target = String(req.headers['x-amz-target'] ?? '');
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
        this.received.push({ target, body });
        let answer: unknown = {};
        if (target.endsWith('.SendMessage')) answer = { MessageId: `m${this.received.length}`, MD5OfMessageBody: createHash('md5').update(String(body.MessageBody)).digest('hex') };
        if (target.endsWith('.PutEvents')) answer = { FailedEntryCount: 0, Entries: (body.Entries as unknown[]).map((_, i) => ({ EventId: `e${this.received.length}-${i}` })) };
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  ofOperation(operation: string): Received[] {
    return this.received.filter((r) => r.target.endsWith(`.${operation}`));
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

let upstream: Upstream;
let layer: FaultLayer | undefined;

beforeEach(async () => {
  upstream = new Upstream();
  await upstream.start();
});
afterEach(async () => {
  await layer?.close();
  layer = undefined;
  await upstream.stop();
});

const sagaCommand = (sagaId: string, type: string, attempt: number, phase = 'forward') =>
  JSON.stringify({ kind: 'saga.command', commandId: `${sagaId}/step/${phase}/${attempt}`, saga: 'wallet.transfers', sagaId, step: 'confirm', phase, attempt, type, data: { transferId: sagaId }, sentAt: new Date().toISOString() });

/** The event ids of each PutEvents that reached the upstream, in order. */
const ids = (from: Upstream) => from.ofOperation('PutEvents').map((r) => (r.body.Entries as Array<{ Detail: string }>).map((e) => (JSON.parse(e.Detail) as { id: string }).id));

const answer = (id: string, transferId: string, type = 'wallet.funds.reservation.confirmed') => ({
  Source: 'wallet.accounts',
  DetailType: type,
  Detail: JSON.stringify({ specversion: '1.0', id, type, data: { transferId, accountId: 'a' } }),
  EventBusName: 'wallet',
});

describe('the fault layer: TransactionConflict', () => {
  it('answers a TransactWriteItems with the TransactionCanceledException the SDK parses: one TransactionConflict reason per item position, nothing forwarded', async () => {
    // arrange: every TransactWriteItems conflicts, on its second item
    const draws = [0, 0.5]; // conflict? yes; which item: floor(0.5 × 3) = 1
    layer = new FaultLayer(upstream.url, { ...NONE, conflict: 0.05 }, () => draws.shift() ?? 0.99);
    const ddb = new DynamoDBClient({ endpoint: await layer.listen(), credentials, region });
    const update = (pk: string) => ({ Update: { TableName: 't', Key: { pk: { S: pk } }, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': { N: '1' } } } });

    // act
    const error = await ddb.send(new TransactWriteItemsCommand({ TransactItems: [update('a'), update('b'), update('c')] })).catch((e: unknown) => e);

    // assert: the SDK's own exception class, with the reasons in order; not retried by the SDK; nothing written
    expect(error).toBeInstanceOf(TransactionCanceledException);
    const canceled = error as TransactionCanceledException;
    expect(canceled.CancellationReasons).toEqual([{ Code: 'None' }, { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' }, { Code: 'None' }]);
    expect(canceled.message).toMatch(/TransactionConflict/);
    expect(canceled.$metadata).toMatchObject({ httpStatusCode: 400, attempts: 1 });
    expect(upstream.received).toHaveLength(0);
    expect(layer.faults()).toEqual([expect.objectContaining({ kind: 'conflict', service: 'dynamodb', operation: 'TransactWriteItems', count: 1 })]);
  });

  it('writes one reason per item, the conflicting one where asked', () => {
    // act
    const body = JSON.parse(transactionConflictBody(4, 3)) as { __type: string; CancellationReasons: Array<{ Code: string }> };

    // assert
    expect(body.__type).toBe('com.amazonaws.dynamodb.v20120810#TransactionCanceledException');
    expect(body.CancellationReasons.map((r) => r.Code)).toEqual(['None', 'None', 'None', 'TransactionConflict']);
  });

  it('forwards a TransactWriteItems untouched when the draw says no', async () => {
    // arrange
    layer = new FaultLayer(upstream.url, { ...NONE, conflict: 0.05 }, () => 0.99);
    const ddb = new DynamoDBClient({ endpoint: await layer.listen(), credentials, region });

    // act
    await ddb.send(new TransactWriteItemsCommand({ TransactItems: [{ Update: { TableName: 't', Key: { pk: { S: 'a' } }, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': { N: '1' } } } }] }));

    // assert
    expect(upstream.ofOperation('TransactWriteItems')).toHaveLength(1);
    expect(layer.faults()).toEqual([]);
  });
});

describe('the fault layer: late answers of saga steps', () => {
  it('delays the first attempt of a chosen saga’s command past the step timeout (DelaySeconds), also when the SDK re-sends it, and nothing else', async () => {
    // arrange: the 1st and then every 2nd saga reaching the command is chosen, at most 2
    layer = new FaultLayer(upstream.url, { ...NONE, lateAnswers: { delaySeconds: 45, command: { type: 'ConfirmReservation', every: 2, max: 2 } } });
    const endpoint = await layer.listen();
    const sqs = new SQSClient({ endpoint, credentials, region });
    const QueueUrl = `${endpoint}/000000000000/commands`;
    const send = (body: string) => sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: body }));

    // act
    await send(sagaCommand('t1', 'ConfirmReservation', 1)); // 1st saga: chosen
    await send(sagaCommand('t1', 'ConfirmReservation', 1)); // the same attempt re-sent: delayed too
    await send(sagaCommand('t1', 'ConfirmReservation', 2)); // the next attempt: on time
    await send(sagaCommand('t2', 'ConfirmReservation', 1)); // 2nd saga: not chosen
    await send(sagaCommand('t3', 'ReserveFunds', 1)); // another command type
    await send(sagaCommand('t3', 'ConfirmReservation', 1, 'compensation')); // not a forward step
    await send(sagaCommand('t4', 'ConfirmReservation', 1)); // 3rd saga: chosen
    await send('not a saga command');

    // assert
    const delays = upstream.ofOperation('SendMessage').map((r) => r.body.DelaySeconds);
    expect(delays).toEqual([45, 45, undefined, undefined, undefined, undefined, 45, undefined]);
    expect(layer.lateSagas().delayedCommands).toEqual(['t1', 't4']);
    expect(layer.faults()).toEqual([expect.objectContaining({ kind: 'late-answer', service: 'sqs', operation: 'SendMessage ConfirmReservation +45 s', count: 2 })]);
  });

  it('holds a chosen saga’s first answer (and its repeats) back, reports it published, and publishes it after the delay; a later answer goes through', async () => {
    // arrange: a clock the test can move on (timers still run in real time)
    let skew = 0;
    const now = () => Date.now() + skew;
    layer = new FaultLayer(upstream.url, { ...NONE, lateAnswers: { delaySeconds: 1, answer: { eventType: 'wallet.funds.reservation.confirmed', correlateBy: 'transferId', every: 1, max: 1 } } }, Math.random, now);
    const events = new EventBridgeClient({ endpoint: await layer.listen(), credentials, region });

    // act: a batch with the answer between two other events …
    const first = await events.send(new PutEventsCommand({ Entries: [answer('x1', 'other', 'wallet.transaction.added'), answer('c1', 't1'), answer('x2', 'other', 'wallet.funds.reserved')] }));
    const now1 = ids(upstream);
    const retried = await events.send(new PutEventsCommand({ Entries: [answer('c1', 't1')] })); // the relay publishing the same event again
    const repeated = await events.send(new PutEventsCommand({ Entries: [answer('c1b', 't1')] })); // the answer to the same command delivered twice
    skew = ANSWER_REPEAT_WINDOW_MS + 1; // … and a step timeout later, the answer to a re-sent attempt
    const later = await events.send(new PutEventsCommand({ Entries: [answer('c2', 't1')] }));
    const beforeRelease = ids(upstream);
    await new Promise((resolve) => setTimeout(resolve, 1_500));

    // assert: every entry reported published, in place; the held ones reached the upstream only after the delay
    expect(first.FailedEntryCount).toBe(0);
    expect(first.Entries).toHaveLength(3);
    expect(first.Entries?.every((e) => typeof e.EventId === 'string' && e.EventId.length > 0)).toBe(true);
    expect([retried, repeated, later].map((a) => a.FailedEntryCount)).toEqual([0, 0, 0]);
    expect(now1).toEqual([['x1', 'x2']]);
    expect(beforeRelease).toEqual([['x1', 'x2'], ['c2']]);
    // the held ones are released by their own timers: in any order among themselves
    expect(ids(upstream).slice(0, 2)).toEqual([['x1', 'x2'], ['c2']]);
    expect(ids(upstream).slice(2).map((batch) => batch.join(',')).sort()).toEqual(['c1', 'c1', 'c1b']);
    expect(layer.lateSagas().heldAnswers).toEqual(['t1']);
    expect(layer.faults()).toEqual([expect.objectContaining({ kind: 'late-answer', service: 'events', operation: 'PutEvents wallet.funds.reservation.confirmed held 1 s', count: 1 })]);
  });

  it('does not hold the answer of a saga whose command it delayed, and publishes what it still holds when closed', async () => {
    // arrange
    layer = new FaultLayer(upstream.url, {
      ...NONE,
      lateAnswers: { delaySeconds: 600, command: { type: 'ConfirmReservation', every: 1, max: 1 }, answer: { eventType: 'wallet.funds.reservation.confirmed', correlateBy: 'transferId', every: 1, max: 5 } },
    });
    const endpoint = await layer.listen();
    const sqs = new SQSClient({ endpoint, credentials, region });
    const events = new EventBridgeClient({ endpoint, credentials, region });
    await sqs.send(new SendMessageCommand({ QueueUrl: `${endpoint}/000000000000/commands`, MessageBody: sagaCommand('t1', 'ConfirmReservation', 1) }));

    // act
    await events.send(new PutEventsCommand({ Entries: [answer('c1', 't1'), answer('c2', 't2')] }));
    const published = upstream.ofOperation('PutEvents').length;
    await layer.close();
    layer = undefined;

    // assert: t1's answer went at once (its command was late already), t2's was held, then flushed by close()
    expect(published).toBe(1);
    expect(ids(upstream)).toEqual([['c1'], ['c2']]);
  });

  it('refuses a delay SQS cannot take', () => {
    expect(() => new FaultLayer(upstream.url, { ...NONE, lateAnswers: { delaySeconds: 901 } })).toThrow(/1–900 s/);
  });
});
