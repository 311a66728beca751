import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { InvalidSnapshotError } from '../../functions/toolkit/eventsource';
import { HttpError, httpApi, MAX_BODY_BYTES } from '../../functions/toolkit/http/httpApi';
import { CommitTooLargeError, TransactionConflictError } from '../../functions/toolkit/outbox';
import { SubjectErasedError } from '../../functions/toolkit/privacy/errors';

const request = (routeKey: string): APIGatewayProxyEventV2 => ({ routeKey, rawPath: '/', headers: {}, requestContext: {} } as unknown as APIGatewayProxyEventV2);
const answer = async (error: unknown) => {
  const handler = httpApi({ 'POST /things': async () => { throw error; } });
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
  const echo = httpApi({ 'POST /things': async (event) => ({ statusCode: 200, body: JSON.stringify({ bytes: Buffer.byteLength(event.body ?? '') }) }) });
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
