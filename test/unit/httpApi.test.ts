import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { InvalidSnapshotError } from '../../functions/toolkit/eventsource';
import { HttpError, httpApi, MAX_BODY_BYTES } from '../../functions/toolkit/http/httpApi';
import { callerOf } from '../../functions/toolkit/http/access';
import { CommitTooLargeError, TransactionConflictError } from '../../functions/toolkit/outbox';
import { SubjectErasedError } from '../../functions/toolkit/privacy/errors';

const OPEN = { 'POST /things': { public: 'a test route' } } as const;
const request = (routeKey: string): APIGatewayProxyEventV2 => ({ routeKey, rawPath: '/', headers: {}, requestContext: {} } as unknown as APIGatewayProxyEventV2);
const answer = async (error: unknown) => {
  const handler = httpApi({ 'POST /things': async () => { throw error; } }, { access: OPEN });
  const response = await handler(request('POST /things'));
  return { status: response.statusCode, body: JSON.parse(response.body) as { error: string; message: string }, headers: response.headers };
};

describe('httpApi: what a failure tells the caller', () => {
  it.each([
    ['an erased subject', new SubjectErasedError('c-1'), 410, 'SubjectErasedError'],
    ['a commit over DynamoDB’s limits', new CommitTooLargeError(['120 items (aggregates + events), at most 100 per transaction']), 413, 'CommitTooLargeError'],
    ['a state that cannot be snapshotted', new InvalidSnapshotError('a-1', ['settled: too big']), 422, 'InvalidSnapshotError'],
  ])('answers %s with a 4xx and the reason: retrying cannot fix it', async (_what, error, status, name) => {
    expect(await answer(error)).toMatchObject({ status, body: { error: name, message: (error as Error).message } });
  });

  it('answers lasting contention with a 503 and Retry-After: nothing was written, a retry may go through', async () => {
    const { status, body, headers } = await answer(new TransactionConflictError(5));
    expect({ status, error: body.error, retryAfter: headers?.['retry-after'] }).toEqual({ status: 503, error: 'Busy', retryAfter: '1' });
  });

  it('keeps a domain rejection’s own status, and says nothing of internals on an unexpected error', async () => {
    expect(await answer(new HttpError(409, 'Conflict', 'changed meanwhile'))).toMatchObject({ status: 409, body: { error: 'Conflict' } });
    expect(await answer(new Error('socket hang up at 10.0.0.1'))).toMatchObject({ status: 500, body: { error: 'InternalError', message: 'the request failed; it is safe to retry' } });
  });
});

describe('httpApi: bounded request bodies', () => {
  const echo = httpApi({ 'POST /things': async (event) => ({ statusCode: 200, body: JSON.stringify({ bytes: Buffer.byteLength(event.body ?? '') }) }) }, { access: OPEN });
  const post = (body: string, isBase64Encoded = false) => echo({ ...request('POST /things'), body, isBase64Encoded });
  /** A JSON body of exactly `bytes` bytes (UTF-8), of `char` repeated. */
  const bodyOf = (bytes: number, char = 'a') => JSON.stringify({ text: char.repeat(Math.floor((bytes - 11) / Buffer.byteLength(char))) }).padEnd(bytes, ' ');

  it(`refuses a body over ${MAX_BODY_BYTES} bytes with a 413 that says the limit, before any route runs`, async () => {
    // act: one byte over, in plain text and base64-encoded; and far over in multi-byte characters
    const responses = await Promise.all([post(bodyOf(MAX_BODY_BYTES + 1)), post(Buffer.from(bodyOf(MAX_BODY_BYTES + 1)).toString('base64'), true), post(bodyOf(MAX_BODY_BYTES * 4, '𝄞'))]);

    // assert
    for (const response of responses) {
      expect(response.statusCode).toBe(413);
      expect(JSON.parse(response.body)).toEqual({ error: 'PayloadTooLarge', message: expect.stringMatching(new RegExp(`the request body is \\d+ bytes; at most ${MAX_BODY_BYTES} are accepted`)) });
    }
  });

  it('lets a body of exactly the limit through, counted in bytes not characters', async () => {
    expect(Buffer.byteLength(bodyOf(MAX_BODY_BYTES))).toBe(MAX_BODY_BYTES);
    expect((await post(bodyOf(MAX_BODY_BYTES))).statusCode).toBe(200);
    expect((await post(Buffer.from(bodyOf(MAX_BODY_BYTES)).toString('base64'), true)).statusCode).toBe(200);
  });
});

describe('httpApi: every route has its rule, checked before it runs', () => {
  const access = {
    'POST /orders': { roles: ['customer'] },
    'POST /barista/start': { roles: ['barista', 'operator'] },
    'GET /board': { public: 'no personal data' },
  } as const;
  const seen: { route: string; sub: string }[] = [];
  const api = httpApi(
    {
      'POST /orders': async (_event, caller) => (seen.push({ route: 'orders', sub: caller.sub }), { statusCode: 201, body: '{}' }),
      'POST /barista/start': async (_event, caller) => (seen.push({ route: 'start', sub: caller.sub }), { statusCode: 200, body: '{}' }),
      'GET /board': async (_event, caller) => (seen.push({ route: 'board', sub: caller.sub }), { statusCode: 200, body: '{}' }),
    },
    { access },
  );
  /** A request as API Gateway hands it on after its JWT authorizer: every claim a string, arrays as "[a b]". */
  const signedIn = (routeKey: string, claims: Record<string, string> | undefined) =>
    ({ ...request(routeKey), requestContext: claims ? { authorizer: { jwt: { claims, scopes: null } } } : {} }) as unknown as APIGatewayProxyEventV2;
  const call = async (routeKey: string, claims?: Record<string, string>) => {
    const response = await api(signedIn(routeKey, claims));
    return { status: response.statusCode, body: JSON.parse(response.body) as { error?: string; message?: string } };
  };

  it('answers 401 without verified claims and 403 without one of the route’s roles, and runs nothing', async () => {
    seen.length = 0;
    expect(await call('POST /orders')).toMatchObject({ status: 401, body: { error: 'Unauthorized', message: expect.stringMatching(/access token/) } });
    expect(await call('POST /orders', { sub: 'u-1', 'cognito:groups': '[barista]' })).toMatchObject({ status: 403, body: { error: 'Forbidden', message: 'route POST /orders is for customer' } });
    expect(await call('POST /orders', { sub: 'u-1' })).toMatchObject({ status: 403 });
    // a group whose name contains a role's is not that role
    expect(await call('POST /orders', { sub: 'u-1', 'cognito:groups': '[customers not-customer]' })).toMatchObject({ status: 403 });
    // claims that are not a caller (no sub) are no caller
    expect(await call('POST /orders', { 'cognito:groups': '[customer]' })).toMatchObject({ status: 401 });
    expect(seen).toEqual([]);
  });

  it('runs the route for a caller in one of its roles, with the caller’s sub and name; a public route for anyone', async () => {
    seen.length = 0;
    expect(await call('POST /orders', { sub: 'u-1', username: 'ada', 'cognito:groups': '[customer]' })).toMatchObject({ status: 201 });
    expect(await call('POST /barista/start', { sub: 'u-2', 'cognito:groups': '[counter operator]' })).toMatchObject({ status: 200 });
    expect(await call('GET /board')).toMatchObject({ status: 200 });
    expect(seen).toEqual([{ route: 'orders', sub: 'u-1' }, { route: 'start', sub: 'u-2' }, { route: 'board', sub: '' }]);
  });

  it('reads cognito:groups as API Gateway passes it (a bracketed string) and as an array', () => {
    expect(callerOf(signedIn('GET /board', { sub: 'u', 'cognito:groups': '[a b]' }))?.roles).toEqual(new Set(['a', 'b']));
    expect(callerOf(signedIn('GET /board', { sub: 'u', 'cognito:groups': 'a' }))?.roles).toEqual(new Set(['a']));
    const withArray = { ...request('GET /board'), requestContext: { authorizer: { jwt: { claims: { sub: 'u', 'cognito:groups': ['a', 'b'] } } } } } as unknown as APIGatewayProxyEventV2;
    expect(callerOf(withArray)?.roles).toEqual(new Set(['a', 'b']));
    expect(callerOf(signedIn('GET /board', { sub: 'u' }))).toEqual({ sub: 'u', username: 'u', roles: new Set() });
  });

  it('refuses a route that has no rule (a handler serving a route its access module forgot)', async () => {
    const unruled = httpApi({ 'GET /secret': async () => ({ statusCode: 200, body: '{}' }) } as never, { access: {} });
    const response = await unruled(signedIn('GET /secret', { sub: 'u', 'cognito:groups': '[operator]' }));
    expect(response.statusCode).toBe(403);
  });
});
