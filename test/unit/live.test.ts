import { DeleteConnectionCommand, GoneException, ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue, DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { ApiGatewayConnectionPusher } from '../../functions/toolkit/live/ApiGatewayConnectionPusher';
import { newConnection } from '../../functions/toolkit/live/connections';
import { fanOut, type OutgoingMessage } from '../../functions/toolkit/live/fanOut';
import { forEachWithConcurrency } from '../../functions/toolkit/live/forEachWithConcurrency';
import { InMemoryConnectionStore } from '../../functions/toolkit/live/InMemoryConnectionStore';
import { PushConfigSchema, LIVE_ENV } from '../../functions/toolkit/live/liveConfig';
import { toLiveMessage } from '../../functions/toolkit/live/liveMessage';
import type { ConnectionPusher } from '../../functions/toolkit/live/ports';
import { readStreamRecords } from '../../functions/toolkit/live/readStreamRecords';
import { WebSocketEventSchema } from '../../functions/toolkit/live/webSocketEvent';
import { parseConfig, ConfigError } from '../../functions/toolkit/config/parseConfig';
import { streamSequenceNumber } from './fixtures';

const KIND = 'board.row';

/** A projection row item as the toolkit's projections store it. */
const boardRowItem = (orderId: string, revision: number, status = 'queued') => ({
  pk: orderId,
  state: { orderId, status, summary: '1× medium latte', totalCents: 380, overdue: false },
  watermarks: { 'coffee.orders': revision },
  revision,
  version: revision,
});

/** A stream record of a changed item (NEW_IMAGE), as the push function receives it. */
function changeRecord(item: Record<string, unknown>, n: number, eventName: 'INSERT' | 'MODIFY' = 'MODIFY'): DynamoDBRecord {
  return {
    eventID: `event-${n}`,
    eventName,
    eventSource: 'aws:dynamodb',
    dynamodb: {
      Keys: { pk: { S: String(item.pk) } },
      NewImage: marshall(item, { removeUndefinedValues: true }) as Record<string, AttributeValue>,
      SequenceNumber: streamSequenceNumber(n),
      StreamViewType: 'NEW_IMAGE',
    },
  };
}

const message = (n: number): OutgoingMessage => ({ id: streamSequenceNumber(n), data: JSON.stringify({ kind: KIND, row: { orderId: 'o-1', revision: n } }) });

/** Records every post; answers per connection with a script (default: sent). */
class ScriptedPusher implements ConnectionPusher {
  readonly posts: { connectionId: string; data: string }[] = [];
  inFlight = 0;
  maxInFlight = 0;
  constructor(private readonly answer: (connectionId: string, data: string, nth: number) => 'sent' | 'gone' | Error = () => 'sent') {}

  async post(connectionId: string, data: string): Promise<'sent' | 'gone'> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((resolve) => setTimeout(resolve, 1));
    this.inFlight--;
    const nth = this.posts.filter((p) => p.connectionId === connectionId).length;
    const answer = this.answer(connectionId, data, nth);
    if (answer instanceof Error) throw answer;
    if (answer === 'sent') this.posts.push({ connectionId, data });
    return answer;
  }

  readonly closed: string[] = [];
  async close(connectionId: string): Promise<void> {
    this.closed.push(connectionId);
  }

  receivedBy(connectionId: string): number[] {
    return this.posts.filter((p) => p.connectionId === connectionId).map((p) => (JSON.parse(p.data) as { row: { revision: number } }).row.revision);
  }
}

async function storeWith(ids: string[], pageSize = 100): Promise<InMemoryConnectionStore> {
  const store = new InMemoryConnectionStore(pageSize);
  for (const id of ids) await store.add(newConnection(id, Date.UTC(2025, 2, 1, 8, 30), 7200));
  return store;
}

const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'LimitExceededException' });

describe('toLiveMessage: a read-model item → the message every client receives', () => {
  it('given a projection row, then the message is { kind, row: { ...state, revision } }', () => {
    // act
    const mapped = toLiveMessage(KIND, boardRowItem('o-1', 3, 'brewing'));

    // assert
    expect(mapped).toEqual({
      outcome: 'push',
      message: { kind: KIND, row: { orderId: 'o-1', status: 'brewing', summary: '1× medium latte', totalCents: 380, overdue: false, revision: 3 } },
    });
  });

  it('given a state that carries a revision of its own, then the item revision wins', () => {
    const mapped = toLiveMessage(KIND, { pk: 'o-1', state: { orderId: 'o-1', revision: 1 }, revision: 5 });
    expect(mapped).toMatchObject({ outcome: 'push', message: { row: { revision: 5 } } });
  });

  it('given an item without state (e.g. a projection summary), then nothing is pushed', () => {
    expect(toLiveMessage(KIND, { pk: '#SUMMARY', total: 12, version: 4 })).toEqual({ outcome: 'skip' });
  });

  it('given a row with a bad revision or state, then it is poison, with the paths but not the values', () => {
    const mapped = toLiveMessage(KIND, { pk: 'o-1', state: 'secret-looking-value', revision: 'two' });
    expect(mapped.outcome).toBe('poison');
    const problems = mapped.outcome === 'poison' ? mapped.problems.join('\n') : '';
    expect(problems).toMatch(/^state: /m);
    expect(problems).toMatch(/^revision: /m);
    expect(problems).not.toContain('secret-looking-value');
  });
});

describe('readStreamRecords: a stream batch → the messages to push, in order', () => {
  it('given rows, a summary item and a poison row, then rows become messages in stream order and poison is set apart by its keys', () => {
    // arrange
    const records = [
      changeRecord(boardRowItem('o-1', 1), 1, 'INSERT'),
      changeRecord({ pk: '#SUMMARY', total: 1 }, 2),
      changeRecord(boardRowItem('o-1', 2, 'brewing'), 3),
      changeRecord({ pk: 'o-9', state: { orderId: 'o-9' }, revision: -1 }, 4),
      changeRecord(boardRowItem('o-2', 1), 5, 'INSERT'),
    ];

    // act
    const read = readStreamRecords(records, KIND);

    // assert
    expect(read.messages.map((m) => m.id)).toEqual([streamSequenceNumber(1), streamSequenceNumber(3), streamSequenceNumber(5)]);
    expect(read.messages.map((m) => JSON.parse(m.data))).toEqual([
      { kind: KIND, row: expect.objectContaining({ orderId: 'o-1', status: 'queued', revision: 1 }) },
      { kind: KIND, row: expect.objectContaining({ orderId: 'o-1', status: 'brewing', revision: 2 }) },
      { kind: KIND, row: expect.objectContaining({ orderId: 'o-2', revision: 1 }) },
    ]);
    expect(read.skipped).toBe(1);
    expect(read.poison).toEqual([{ sequenceNumber: streamSequenceNumber(4), keys: { pk: 'o-9' }, errorName: 'InvalidLiveRow', reason: expect.stringMatching(/^revision: /) }]);
  });

  it('given a record without a new image (e.g. a REMOVE), then it is skipped', () => {
    const record: DynamoDBRecord = { eventName: 'REMOVE', dynamodb: { Keys: { pk: { S: 'o-1' } }, SequenceNumber: streamSequenceNumber(1) } };
    expect(readStreamRecords([record], KIND)).toEqual({ messages: [], skipped: 1, poison: [] });
  });
});

describe('fanOut: every message to every connection', () => {
  it('given N connections over several pages, then each receives every message once, in order', async () => {
    // arrange
    const ids = Array.from({ length: 25 }, (_, i) => `c-${i}`);
    const store = await storeWith(ids, 7);
    const pusher = new ScriptedPusher();

    // act
    const result = await fanOut([message(1), message(2), message(3)], { store, pusher, maxConcurrency: 4 });

    // assert
    for (const id of ids) expect(pusher.receivedBy(id), id).toEqual([1, 2, 3]);
    expect(result).toEqual({ connections: 25, sent: 75, gone: 0, goneNotRemoved: 0, failed: 0, dropped: 0, firstFailedIndex: undefined, errorNames: [] });
    expect(pusher.maxInFlight).toBeLessThanOrEqual(4);
    expect(pusher.maxInFlight).toBeGreaterThan(1);
  });

  it('given a connection that is gone, then it is removed and skipped, and the batch does not fail', async () => {
    // arrange
    const store = await storeWith(['alive', 'left', 'also-alive']);
    const pusher = new ScriptedPusher((id) => (id === 'left' ? 'gone' : 'sent'));

    // act
    const result = await fanOut([message(1), message(2)], { store, pusher, maxConcurrency: 10 });

    // assert
    expect([...store.connections.keys()].sort()).toEqual(['alive', 'also-alive']);
    expect(pusher.receivedBy('alive')).toEqual([1, 2]);
    expect(pusher.receivedBy('also-alive')).toEqual([1, 2]);
    expect(result).toMatchObject({ connections: 3, sent: 4, gone: 1, failed: 0, firstFailedIndex: undefined });
  });

  it('given a gone connection whose item cannot be deleted, then the push still succeeds and counts it', async () => {
    const store = await storeWith(['left']);
    store.remove = async () => {
      throw Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException' });
    };
    const result = await fanOut([message(1)], { store, pusher: new ScriptedPusher(() => 'gone'), maxConcurrency: 1 });
    expect(result).toMatchObject({ gone: 1, goneNotRemoved: 1, failed: 0, firstFailedIndex: undefined, errorNames: ['ProvisionedThroughputExceededException'] });
  });

  it('given connections that fail while others take the messages, then they are closed and removed (their clients reconnect and reload), and the batch does not fail', async () => {
    // arrange: "slow" fails on its 3rd message, "flaky" on its 2nd
    const store = await storeWith(['ok', 'slow', 'flaky']);
    const pusher = new ScriptedPusher((id, _data, nth) => ((id === 'slow' && nth === 2) || (id === 'flaky' && nth === 1) ? throttled() : 'sent'));

    // act
    const result = await fanOut([message(1), message(2), message(3), message(4)], { store, pusher, maxConcurrency: 3 });

    // assert: no retry of the batch for everyone; the failing connections stopped where they failed, then were dropped
    expect(result).toMatchObject({ connections: 3, failed: 2, dropped: 2, gone: 0, firstFailedIndex: undefined, errorNames: ['LimitExceededException'] });
    expect(pusher.receivedBy('ok')).toEqual([1, 2, 3, 4]);
    expect(pusher.receivedBy('slow')).toEqual([1, 2]);
    expect(pusher.receivedBy('flaky')).toEqual([1]);
    expect(pusher.closed.sort()).toEqual(['flaky', 'slow']);
    expect([...store.connections.keys()]).toEqual(['ok']);
  });

  it('given a failing connection that cannot be closed or removed, then it is still dropped from this push, counted, and the batch does not fail', async () => {
    // arrange
    const store = await storeWith(['ok', 'stuck']);
    const pusher = new ScriptedPusher((id) => (id === 'stuck' ? throttled() : 'sent'));
    pusher.close = async () => {
      throw Object.assign(new Error('boom'), { name: 'InternalServerError' });
    };

    // act
    const result = await fanOut([message(1)], { store, pusher, maxConcurrency: 2 });

    // assert: removed from the table all the same (its client no longer gets pushes; the TTL would end it anyway)
    expect(result).toMatchObject({ failed: 1, dropped: 1, firstFailedIndex: undefined, errorNames: ['InternalServerError', 'LimitExceededException'] });
    expect([...store.connections.keys()]).toEqual(['ok']);
  });

  it('given every connection failing (the @connections API throttled or down), then nothing is dropped and the earliest failed message is reported, to retry the batch from it', async () => {
    // arrange: "a" fails on its 2nd message, "b" on its 1st
    const store = await storeWith(['a', 'b']);
    const pusher = new ScriptedPusher((id, _data, nth) => ((id === 'a' && nth === 1) || id === 'b' ? throttled() : 'sent'));

    // act
    const result = await fanOut([message(1), message(2)], { store, pusher, maxConcurrency: 2 });

    // assert
    expect(result).toMatchObject({ connections: 2, failed: 2, dropped: 0, firstFailedIndex: 0 });
    expect(pusher.closed).toEqual([]);
    expect(store.connections.size).toBe(2);
  });

  it('given no messages, then no connection is read or posted to', async () => {
    const store = await storeWith(['c']);
    store.pages = () => {
      throw new Error('must not list connections');
    };
    const pusher = new ScriptedPusher();
    expect(await fanOut([], { store, pusher, maxConcurrency: 1 })).toMatchObject({ connections: 0, sent: 0 });
    expect(pusher.posts).toEqual([]);
  });

  it('given the connections cannot be listed, then it throws (the whole batch is retried)', async () => {
    const store = await storeWith(['c']);
    store.pages = async function* () {
      yield* [];
      throw Object.assign(new Error('boom'), { name: 'InternalServerError' });
    };
    await expect(fanOut([message(1)], { store, pusher: new ScriptedPusher(), maxConcurrency: 1 })).rejects.toThrow('boom');
  });
});

describe('ApiGatewayConnectionPusher', () => {
  const pusherAnswering = (outcome: () => Promise<unknown>) => {
    const client = new ApiGatewayManagementApiClient({ endpoint: 'https://abc.execute-api.us-east-1.amazonaws.com/live', region: 'us-east-1' });
    const sent: PostToConnectionCommand[] = [];
    client.send = ((command: PostToConnectionCommand) => {
      sent.push(command);
      return outcome();
    }) as typeof client.send;
    return { pusher: new ApiGatewayConnectionPusher(client), sent };
  };

  it('posts the message as UTF-8 bytes to the connection', async () => {
    const { pusher, sent } = pusherAnswering(async () => ({}));
    expect(await pusher.post('abc=', '{"row":"2× latte"}')).toBe('sent');
    expect(sent[0]!.input.ConnectionId).toBe('abc=');
    expect(new TextDecoder().decode(sent[0]!.input.Data as Uint8Array)).toBe('{"row":"2× latte"}');
  });

  it('answers gone on GoneException (410)', async () => {
    const { pusher } = pusherAnswering(async () => {
      throw new GoneException({ message: 'gone', $metadata: { httpStatusCode: 410 } });
    });
    expect(await pusher.post('abc=', '{}')).toBe('gone');
  });

  it('throws any other error', async () => {
    const { pusher } = pusherAnswering(async () => {
      throw Object.assign(new Error('Forbidden'), { name: 'ForbiddenException', $metadata: { httpStatusCode: 403 } });
    });
    await expect(pusher.post('abc=', '{}')).rejects.toThrow('Forbidden');
  });

  it('closes a connection with DeleteConnection; one already gone is closed', async () => {
    const { pusher, sent } = pusherAnswering(async () => ({}));
    await pusher.close('abc=');
    expect(sent[0]).toBeInstanceOf(DeleteConnectionCommand);
    expect(sent[0]!.input.ConnectionId).toBe('abc=');
    const gone = pusherAnswering(async () => {
      throw new GoneException({ message: 'gone', $metadata: { httpStatusCode: 410 } });
    });
    await expect(gone.pusher.close('abc=')).resolves.toBeUndefined();
  });
});

describe('connections', () => {
  it('a new connection expires two hours after it connected', () => {
    expect(newConnection('c-1', Date.UTC(2025, 2, 1, 8, 30, 0, 250), 7200)).toEqual({
      connectionId: 'c-1',
      connectedAt: '2025-03-01T08:30:00.250Z',
      expiresAt: Date.UTC(2025, 2, 1, 10, 30) / 1000,
    });
  });

  it('reads the route events API Gateway sends, and refuses anything else', () => {
    const event = { requestContext: { routeKey: '$connect', eventType: 'CONNECT', connectionId: 'Zx1=', connectedAt: 1_740_817_800_250, apiId: 'abc' }, isBase64Encoded: false };
    expect(WebSocketEventSchema.parse(event).requestContext).toEqual({ eventType: 'CONNECT', connectionId: 'Zx1=', connectedAt: 1_740_817_800_250 });
    expect(WebSocketEventSchema.safeParse({ requestContext: { eventType: 'PING', connectionId: 'Zx1=' } }).success).toBe(false);
    expect(WebSocketEventSchema.safeParse({ Records: [] }).success).toBe(false);
  });
});

describe('push config', () => {
  it('names every bad key', () => {
    const env = { [LIVE_ENV.connectionsTable]: 't', [LIVE_ENV.callbackUrl]: 'not a url', [LIVE_ENV.messageKind]: 'Board Row', [LIVE_ENV.deadLetterQueueUrl]: 'https://sqs.us-east-1.amazonaws.com/1/q' };
    expect(() => parseConfig(PushConfigSchema, env)).toThrow(ConfigError);
    expect(() => parseConfig(PushConfigSchema, env)).toThrow(new RegExp(`${LIVE_ENV.callbackUrl}.*${LIVE_ENV.messageKind}`));
  });
});

describe('forEachWithConcurrency', () => {
  it('runs every item with at most `limit` at once', async () => {
    let inFlight = 0;
    let max = 0;
    const done: number[] = [];
    await forEachWithConcurrency([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      max = Math.max(max, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 2));
      inFlight--;
      done.push(n);
    });
    expect(done.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(max).toBe(3);
  });
});
