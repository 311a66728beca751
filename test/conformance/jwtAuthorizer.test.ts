import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { localApiUrl } from '../../localstack/endpoints';
import { UserDirectoryClient } from '../../scripts/demo/identities';
import { unique } from '../support/eventually';
import { probe } from './probeLog';

// AWS behaviour the reference stacks' authorization relies on (lib/constructs/UserDirectory.ts,
// functions/toolkit/http/access.ts): a Cognito user pool issues RS256 access tokens to a user who signs
// in with USER_PASSWORD_AUTH; an HTTP API route with the pool's JWT authorizer (issuer = the pool,
// audience = the app client) lets only valid tokens of that client through, with API Gateway's own 401
// `{"message":"Unauthorized"}` otherwise, and hands the function the claims as strings, an array as
// "[a b]". MiniStack verifies the signature against the pool's JWKS, the issuer, expiry and the
// audience (`client_id` of an access token), as AWS does: so the same stacks and clients run on both,
// and the local cloud needs no token issuer of its own.

const Echo = z.object({ routeKey: z.string(), claims: z.record(z.string(), z.unknown()) });
const api = () => localApiUrl(probe().HttpApiId!);
const secured = (authorization?: string) => fetch(`${api()}/secured`, authorization === undefined ? {} : { headers: { authorization } });
const users = (clientId = probe().ProbeUserPoolClientId!) => new UserDirectoryClient({ userPoolId: probe().ProbeUserPoolId!, clientId });

/** A JWT with its payload changed and the original header and signature kept. */
const withClaims = (token: string, change: Record<string, unknown>) => {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const claims = { ...(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as object), ...change };
  return `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
};

describe('Cognito user pool tokens and the HTTP API JWT authorizer (conformance)', () => {
  it('lets a signed-in user’s access token through and hands the function its claims as strings (groups as "[a b]")', async () => {
    // arrange
    const username = unique('probe-user');
    const user = await users().user(username, ['probe-a', 'probe-b']);

    // act
    const response = await secured(`Bearer ${await user.accessToken()}`);

    // assert
    expect(response.status).toBe(200);
    const { claims } = Echo.parse(await response.json());
    expect(claims).toMatchObject({ username, token_use: 'access', client_id: probe().ProbeUserPoolClientId, sub: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(claims['cognito:groups']).toBe('[probe-a probe-b]');
    expect(claims.iss).toBe(`https://cognito-idp.us-east-1.amazonaws.com/${probe().ProbeUserPoolId}`);
  });

  it('refuses with its own 401 a request without a token, with a malformed or unsigned one, or with a real one whose claims were changed', async () => {
    // arrange
    const token = await (await users().user(unique('probe-user'), ['probe-a'])).accessToken();
    const [header, payload] = token.split('.') as [string, string];
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', kid: JSON.parse(Buffer.from(header, 'base64url').toString('utf8')).kid })).toString('base64url')}.${payload}.`;

    // act
    const answers = await Promise.all(
      [undefined, 'Bearer', 'Bearer not-a-token', `Bearer ${unsigned}`, `Bearer ${withClaims(token, { 'cognito:groups': ['probe-a', 'admin'] })}`, `Bearer ${withClaims(token, { exp: Math.floor(Date.now() / 1000) + 86_400 * 365 })}`].map(async (authorization) => {
        const response = await secured(authorization);
        return { status: response.status, body: await response.json() };
      }),
    );

    // assert
    for (const answer of answers) expect(answer).toEqual({ status: 401, body: { message: 'Unauthorized' } });
  });

  it('refuses a valid token of the same pool issued to another app client (the audience is the API’s client only)', async () => {
    // arrange
    const other = await users(probe().ProbeOtherClientId!).user(unique('probe-user'), []);

    // act
    const response = await secured(`Bearer ${await other.accessToken()}`);

    // assert
    expect(response.status).toBe(401);
  });

  it('leaves a route without the authorizer open (a route must be given the authorizer: the stacks make it the API’s default)', async () => {
    expect((await fetch(`${api()}/things/order-1`)).status).toBe(200);
  });
});
