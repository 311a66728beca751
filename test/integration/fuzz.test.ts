/**
 * Fuzzing the deployed reference system, as a hostile client and a hostile producer would.
 *
 * HTTP: every route of both HTTP APIs (read from the deployed APIs, so a new route is fuzzed too) gets
 * generated requests: random JSON, deep nesting, strings past every limit, numbers at and beyond the
 * edges of their types, unusual Unicode (lone surrogates, controls, bidirectional overrides), bytes
 * that are not UTF-8, prototype-pollution keys, encoded path separators. Invariants: no answer is a
 * 5xx; every 4xx is JSON that names the error; the services still serve a valid request afterwards.
 *
 * Events: consumer queues get generated hostile events: unknown types and versions, forged and
 * unsubscribed sources, bad sequences, oversized fields, plaintext where a sealed value belongs.
 * Invariant: each is dead-lettered with its reason; the consumers still apply a valid event afterwards.
 *
 * Every request carries a generated credential: none, a malformed or unsigned token, a real token
 * whose claims were altered (its signature no longer matches), a token of the other service's user
 * pool, a signed-in user without the route's role, or one with every role of the service (so that the
 * hostile body reaches the handler). API Gateway's authorizer answers the first four 401 with its own
 * body (`{"message":"Unauthorized"}`, which HTTP APIs cannot change); our handlers name their errors.
 */
import { ApiGatewayV2Client, GetRoutesCommand } from '@aws-sdk/client-apigatewayv2';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import * as fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ORDER_PLACED } from '../../functions/coffee/orders/placeOrder';
import { buildEvent, newEventId, newTraceparent } from '../../functions/toolkit/envelope';
import { localApiUrl } from '../../localstack/endpoints';
import { discardPoison } from '../chaos/discardPoison';
import { eventually, unique } from '../support/eventually';
import { stackOutputs } from '../support/outputs';
import { coffeeUsers, walletUsers } from '../support/actors';
import { COFFEE_ROLES } from '../../functions/coffee/access';
import { WALLET_ROLES } from '../../functions/wallet/access';

const sqs = new SQSClient({});
const apigw = new ApiGatewayV2Client({});
let coffee: Record<string, string>;
let wallet: Record<string, string>;

beforeAll(() => {
  coffee = stackOutputs('CoffeeShop');
  wallet = stackOutputs('Wallet');
});

/** The route keys an HTTP API serves, as deployed. */
async function routesOf(apiId: string): Promise<string[]> {
  const { Items = [] } = await apigw.send(new GetRoutesCommand({ ApiId: apiId }));
  return Items.map((route) => route.RouteKey ?? '').filter((key) => /^(GET|POST) \//.test(key)).sort();
}

// ---- hostile parts -------------------------------------------------------------------------------

/** A path parameter as it goes on the wire (already encoded, or raw). */
const hostileSegment = fc.oneof(
  fc.constantFrom('..%2F..%2Fetc%2Fpasswd', '%2e%2e%2f', 'a%2Fb', '%252F', 'a%00b', '%ED%A0%80', '%F0%9F%98%80', '__proto__', 'constructor', '%20', '-', 'x'.repeat(400), '%E2%80%AE', 'null', '0'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).map(encodeURIComponent),
);
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code));
const hostileString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.tuple(fc.string({ maxLength: 10 }), loneSurrogate, fc.string({ maxLength: 10 })).map((parts) => parts.join('')),
  fc.constantFrom('\u202eevil', 'a\u0000b', '\u200f\u2066x', '𝕬'.repeat(70), ' '.repeat(200), '', 'A'.repeat(5_000), '<script>', "' OR 1=1 --", '${jndi:ldap://x}'),
);
const hostileNumber = fc.oneof(
  fc.constantFrom(0, -0, 1, -1, 0.5, 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, -Number.MAX_SAFE_INTEGER, 2 ** 31, -(2 ** 31), 100_000_001),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
);
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(hostileString, hostileNumber, fc.boolean(), fc.constant(null), fc.jsonValue({ maxDepth: 3 }));
/** Objects with the field names the commands use, holding hostile values, sometimes pollution keys. */
const FIELDS = ['orderId', 'lines', 'product', 'size', 'quantity', 'customer', 'customerId', 'name', 'email', 'accountId', 'holderName', 'currency', 'transactionId', 'amount', 'payee', 'country', 'transferId', 'from', 'to', 'reason'];
const hostileObject = fc.dictionary(fc.constantFrom(...FIELDS, '__proto__', 'constructor', 'prototype'), fc.oneof(hostileValue, fc.dictionary(fc.constantFrom(...FIELDS, '__proto__'), hostileValue, { maxKeys: 4 })), { maxKeys: 8 });
/** A request body as bytes on the wire. */
const hostileBody: fc.Arbitrary<string | Uint8Array | undefined> = fc.oneof(
  fc.constant(undefined),
  hostileObject.map((value) => JSON.stringify(value)),
  fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)),
  // pollution written out literally (JSON.stringify would drop a real __proto__)
  fc.constantFrom('{"__proto__":{"isAdmin":true},"orderId":"p-1","lines":[{"product":"latte"}]}', '{"constructor":{"prototype":{"polluted":1}}}', '{"orderId":"a","orderId":"b"}'),
  // deep nesting, under the size limit
  fc.integer({ min: 50, max: 3_000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
  fc.integer({ min: 50, max: 1_500 }).map((depth) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)),
  // past the size limit, and bytes that are not UTF-8 or not JSON
  fc.integer({ min: 8_193, max: 40_000 }).map((size) => JSON.stringify({ orderId: 'x'.repeat(size) })),
  fc.uint8Array({ minLength: 1, maxLength: 300 }),
  fc.constantFrom('', 'null', '[]', '"string"', '1e999', '{', '{"a":}', '\u0000'),
);

interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
}

async function request(apiUrl: string, method: string, path: string, body: string | Uint8Array | undefined, contentType: string | undefined, token?: string): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (contentType) headers['content-type'] = contentType;
  if (token !== undefined) headers.authorization = token;
  const response = await fetch(`${apiUrl}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, body: parsed, text: text.slice(0, 300) };
}

/** What is wrong with an answer, if anything: a 5xx, or a 4xx that is not JSON naming the error. */
function problemWith(answer: Answer): string | undefined {
  if (answer.status >= 500) return `answered ${answer.status}: ${answer.text}`;
  if (answer.status >= 400) {
    const body = answer.body as { error?: unknown; message?: unknown } | undefined;
    // API Gateway itself answers an unmatched route ({"message":"Not Found"}) and a request its JWT
    // authorizer refuses ({"message":"Unauthorized"}); our handlers name the error.
    const fromGateway = (answer.status === 404 || answer.status === 401) && typeof body?.message === 'string' && body.error === undefined;
    if (!fromGateway && (typeof body?.error !== 'string' || body.error === '' || typeof body.message !== 'string')) return `answered ${answer.status} without a JSON error: ${answer.text}`;
  }
  return undefined;
}

/** A token with the same header and signature, and claims changed: what a caller who wants another role would send. */
function altered(token: string, change: Record<string, unknown>): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const claims = { ...(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>), ...change };
  return `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
}
const unsigned = (claims: Record<string, unknown>) => `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;

/** The credentials a request may carry, by kind: the Authorization header's value, or none. */
async function credentials(users: ReturnType<typeof coffeeUsers>, roles: readonly string[], otherPool: ReturnType<typeof coffeeUsers>): Promise<Record<string, string | undefined>> {
  const [everyRole, noRole, stranger] = await Promise.all([users.user('fuzz-every-role', roles), users.user('fuzz-no-role', []), otherPool.user('fuzz-stranger', [])]);
  const valid = await everyRole.accessToken();
  return {
    none: undefined,
    malformed: 'Bearer not.a.jwt',
    'not bearer': `Basic ${Buffer.from('admin:admin').toString('base64')}`,
    unsigned: `Bearer ${unsigned({ sub: 'x', 'cognito:groups': [...roles], token_use: 'access', exp: Math.floor(Date.now() / 1000) + 600 })}`,
    'claims altered': `Bearer ${altered(await noRole.accessToken(), { 'cognito:groups': [...roles] })}`,
    'other pool': `Bearer ${await stranger.accessToken()}`,
    'no role': `Bearer ${await noRole.accessToken()}`,
    'every role': `Bearer ${valid}`,
  };
}

describe('fuzzing the deployed APIs and consumers, on the local cloud', () => {
  it('answers every generated hostile request to every route without a 5xx, every 4xx as JSON naming the error, and still serves afterwards', async () => {
    const apis = [
      { name: 'coffee', url: localApiUrl(coffee.ApiId!), routes: await routesOf(coffee.ApiId!), credentials: await credentials(coffeeUsers(), COFFEE_ROLES, walletUsers()) },
      { name: 'wallet', url: localApiUrl(wallet.WalletApiId!), routes: await routesOf(wallet.WalletApiId!), credentials: await credentials(walletUsers(), WALLET_ROLES, coffeeUsers()) },
    ];
    expect(apis.map((api) => api.routes.length)).toEqual([8, 6]);
    const outcomes = new Map<string, number>();
    const problems: string[] = [];

    for (const api of apis) {
      for (const route of api.routes) {
        const [method, template] = route.split(' ') as [string, string];
        await fc.assert(
          fc.asyncProperty(fc.array(hostileSegment, { minLength: 1, maxLength: 1 }), hostileBody, fc.constantFrom('application/json', 'text/plain', undefined), fc.oneof(fc.constant('every role'), fc.constantFrom(...Object.keys(api.credentials))), async ([segment], body, contentType, credential) => {
            const path = template.replace(/\{[^}]+\}/g, segment!);
            const answer = await request(api.url, method, path, method === 'GET' ? undefined : body, contentType, api.credentials[credential]);
            const outcome = `${credential} → ${answer.status === 401 || answer.status === 403 ? answer.status : `${Math.floor(answer.status / 100)}xx`}`;
            outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
            // only a signed-in caller with a role of the route gets past the door (or anyone on a public route)
            const unrouted = answer.status === 404 && (answer.body as { error?: unknown } | undefined)?.error === undefined; // the gateway's: no route matched the path
            const refused = answer.status === 401 || answer.status === 403 || unrouted;
            if (!refused && credential !== 'every role' && !route.startsWith('GET /board')) problems.push(`${api.name} ${method} ${path.slice(0, 80)}: let a request with credential "${credential}" in (${answer.status})`);
            const problem = problemWith(answer);
            if (problem) problems.push(`${api.name} ${method} ${path.slice(0, 80)}: ${problem}`);
            return problem === undefined;
          }),
          { numRuns: 40, seed: 1_207 + route.length, endOnFailure: true },
        ).catch(() => undefined); // every problem is collected above and asserted below, with its request
      }
    }
    console.info(`fuzz: ${[...outcomes.values()].reduce((a, b) => a + b, 0)} requests to ${apis.reduce((n, api) => n + api.routes.length, 0)} routes — ${[...outcomes.entries()].sort().map(([k, v]) => `${k} ${v}`).join(', ')}`);
    expect(problems).toEqual([]);

    // still serving: a valid order and a valid account go through
    const orderId = unique('fuzz-after');
    expect((await request(apis[0]!.url, 'POST', '/orders', JSON.stringify({ orderId, lines: [{ product: 'latte' }] }), 'application/json', apis[0]!.credentials['every role'])).status).toBe(201);
    const accountId = unique('fuzz-acct');
    expect((await request(apis[1]!.url, 'POST', '/accounts', JSON.stringify({ accountId, holderName: 'Ada', currency: 'EUR' }), 'application/json', apis[1]!.credentials['every role'])).status).toBe(201);
  });

  it('dead-letters every generated hostile event with its reason, and the consumers still apply a valid one afterwards', async () => {
    const run = unique('fuzzev');
    let n = 0;
    /** A well-formed `coffee.order.placed` to corrupt; `marker` is findable in the dead letter. */
    const orderPlaced = (marker: string, data: Record<string, unknown> = {}) =>
      buildEvent({ id: newEventId(), source: 'coffee.orders', type: ORDER_PLACED, subject: `${marker}-o`, sequence: 1, time: new Date(), traceparent: newTraceparent(), data: { orderId: `${marker}-o`, lines: [{ product: 'latte', size: 'medium', quantity: 1, priceCents: 380 }], totalCents: 380, placedAt: new Date().toISOString(), ...data } });
    const onBus = (source: string, detail: unknown) => JSON.stringify({ version: '0', id: newEventId(), 'detail-type': ORDER_PLACED, source, account: '000000000000', time: new Date().toISOString(), region: 'us-east-1', resources: [], detail });
    type Hostile = (marker: string) => string;
    const hostile: fc.Arbitrary<{ kind: string; body: Hostile }> = fc.oneof(
      fc.string({ minLength: 1, maxLength: 30 }).map((type) => ({ kind: 'unknown type', body: (m: string) => JSON.stringify({ ...orderPlaced(m), type: `coffee.${type.replace(/[^a-z]/gi, 'x')}.zz` }) })),
      fc.integer({ min: 2, max: 1_000_000 }).map((version) => ({ kind: 'unknown version', body: (m: string) => JSON.stringify({ ...orderPlaced(m), dataversion: version }) })),
      fc.constantFrom('wallet.fraud', 'fraud.detection', 'coffee.orders.evil', '').map((source) => ({ kind: 'unsubscribed source', body: (m: string) => JSON.stringify({ ...orderPlaced(m), source }) })),
      fc.constantFrom('fraud.detection', 'coffee.barista').map((source) => ({ kind: 'forged bus source', body: (m: string) => onBus(source, orderPlaced(m)) })),
      fc.constantFrom('0', '-1', '1.5', 'x', '', '0x10').map((sequence) => ({ kind: 'bad sequence', body: (m: string) => JSON.stringify({ ...orderPlaced(m), sequence }) })),
      fc.integer({ min: 129, max: 200_000 }).map((size) => ({ kind: 'oversized field', body: (m: string) => JSON.stringify({ ...orderPlaced(m), partitionkey: 'k'.repeat(size) }) })),
      hostileObject.map((data) => ({ kind: 'hostile data', body: (m: string) => JSON.stringify({ ...orderPlaced(m), data: { ...data, marker: m } }) })),
      fc.constantFrom('{', 'null', '[]', '{"specversion":"1.0"}').map((text) => ({ kind: 'not an envelope', body: (m: string) => `${text} ${m}` })),
    );
    const samples = fc.sample(hostile, { numRuns: 24, seed: 1_207 });
    const sent: { marker: string; kind: string }[] = [];
    for (const sample of samples) {
      const marker = `${run}#${n++}#`; // delimited: #1# is not found inside #10#
      await sqs.send(new SendMessageCommand({ QueueUrl: coffee.BoardQueueUrl!, MessageBody: sample.body(marker) }));
      sent.push({ marker, kind: sample.kind });
    }
    // Plaintext where a sealed value belongs, on the barista's ordered queue (a group of its own).
    const plaintextMarker = `${run}#plain#`;
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: coffee.BaristaQueueUrl!,
        MessageBody: JSON.stringify(orderPlaced(plaintextMarker, { customer: { customerId: `${run}-c`, name: 'Ada Lovelace' } })),
        MessageGroupId: `${run}-plain`,
        MessageDeduplicationId: `${run}-plain`,
      }),
    );

    // every one dead-lettered, with its reason
    const isOurs = (body: string) => body.includes(run);
    const found = new Map<string, boolean>();
    await eventually(
      async () => {
        for (const url of [coffee.BoardDeadLetterQueueUrl!, coffee.BaristaDeadLetterQueueUrl!]) {
          for (const letter of await discardPoison(sqs, url, isOurs, 30)) {
            const marker = [...sent.map((s) => s.marker), plaintextMarker].find((m) => letter.body.includes(m));
            if (marker) found.set(marker, letter.hasReason);
          }
        }
        return found.size;
      },
      (size) => size === sent.length + 1,
      { what: 'every hostile event in a dead-letter queue', timeoutMs: 120_000 },
    );
    const kinds = new Map<string, number>();
    for (const { kind } of sent) kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    console.info(`fuzz: ${sent.length + 1} hostile events — ${[...kinds.entries()].map(([k, v]) => `${k} ${v}`).join(', ')}, plaintext customer 1 — all dead-lettered`);
    expect([...found.values()].every(Boolean)).toBe(true);

    // still applying: a valid order reaches the board
    const shop = localApiUrl(coffee.ApiId!);
    const orderId = unique('fuzz-valid');
    const customer = `Bearer ${await (await coffeeUsers().user('fuzz-customer', ['customer'])).accessToken()}`;
    expect((await request(shop, 'POST', '/orders', JSON.stringify({ orderId, lines: [{ product: 'mocha' }] }), 'application/json', customer)).status).toBe(201);
    await eventually(async () => (await request(shop, 'GET', `/board/orders/${orderId}`, undefined, undefined)).status, (status) => status === 200, { what: 'the valid order on the board' });
  });
});
