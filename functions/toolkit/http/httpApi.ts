import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type * as z from 'zod';
import { permanentStatus } from '../errors/permanent';
import { TransactionConflictError } from '../outbox/errors';
import { withApiCallLog } from '../observability';
import { authorize, isRefusal, type AccessPolicy, type Caller } from './access';

export type HttpResponse = APIGatewayProxyStructuredResultV2 & { statusCode: number; body: string };

/** A JSON response. */
export const json = (statusCode: number, body: unknown): HttpResponse => ({
  statusCode,
  headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
  body: JSON.stringify(body),
});

/** A rejection the caller can act on: a 4xx with `{ error, message }`. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly statusCode: number,
    readonly error: string,
    message: string,
  ) {
    super(message);
  }
}

/** Every problem zod found, as `path: message`, joined. */
export const describeIssues = (error: z.ZodError): string =>
  error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`).join('; ');

/** Parses and validates a value that crossed the boundary; a 400 that says what is wrong otherwise. */
export function validated<T extends z.ZodType>(schema: T, value: unknown, error = 'InvalidCommand'): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new HttpError(400, error, describeIssues(parsed.error));
  return parsed.data;
}

/** The request's JSON body; a 400 for a body that is not JSON. An absent body is `{}`. */
export function jsonBody(event: APIGatewayProxyEventV2): unknown {
  if (event.body === undefined || event.body === '') return {};
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'InvalidJson', 'the request body is not valid JSON');
  }
}

/** A route's handler: the request and its caller (`ANONYMOUS` on a public route), checked against the route's `Access` already. */
export type Route = (event: APIGatewayProxyEventV2, caller: Caller) => Promise<HttpResponse>;

/**
 * The largest request body the APIs accept, in bytes: every command here fits in a few KB (an order of
 * 20 lines with a customer is under 3 KB), so anything bigger is refused before it is decoded or parsed.
 */
export const MAX_BODY_BYTES = 8 * 1024;

/** The body's size in bytes as sent (a base64-encoded body decoded), or a 413 once it passes `max`. */
function checkBodySize(event: APIGatewayProxyEventV2, max: number): void {
  const body = event.body;
  if (body === undefined || body.length === 0) return;
  // Counted without decoding: base64 carries 3 bytes in 4 characters (less its padding).
  const bytes = event.isBase64Encoded ? Math.floor((body.length * 3) / 4) - (body.endsWith('==') ? 2 : body.endsWith('=') ? 1 : 0) : Buffer.byteLength(body, 'utf8');
  if (bytes > max) throw new HttpError(413, 'PayloadTooLarge', `the request body is ${bytes} bytes; at most ${max} are accepted`);
}

export interface HttpApiOptions<A extends AccessPolicy> {
  /** Who may call each route (the service's access module, which its stack also reads). */
  readonly access: A;
  readonly logger?: Logger;
  /** @default MAX_BODY_BYTES */
  readonly maxBodyBytes?: number;
}

/**
 * An HTTP API (payload v2) Lambda handler dispatching on the route key (`POST /orders/{orderId}/cancel`).
 * Every route must have a rule in `access`: a request without a verified caller is a 401, a caller
 * without one of the route's roles a 403, before the route runs (object-level checks are the route's).
 * A body over `maxBodyBytes` is a 413 before any route sees it. `HttpError`s become their 4xx,
 * permanent failures (`isPermanent`) a 4xx with the reason, lasting contention a 503 with
 * `Retry-After`; anything else is a 500 that says nothing about internals.
 */
export function httpApi<A extends AccessPolicy>(routes: { readonly [K in keyof A]?: Route }, options: HttpApiOptions<A>): (event: APIGatewayProxyEventV2) => Promise<HttpResponse> {
  const logger = options.logger ?? new Logger();
  return withApiCallLog(async (event: APIGatewayProxyEventV2): Promise<HttpResponse> => {
    const route = (routes as Readonly<Record<string, Route | undefined>>)[event.routeKey];
    if (!route) return json(404, { error: 'NotFound', message: `no route ${event.routeKey}` });
    const caller = authorize(event, options.access[event.routeKey]);
    if (isRefusal(caller)) {
      logger.warn('request refused: access', { route: event.routeKey, status: caller.statusCode });
      return json(caller.statusCode, { error: caller.error, message: caller.message });
    }
    try {
      checkBodySize(event, options.maxBodyBytes ?? MAX_BODY_BYTES);
      return await route(event, caller);
    } catch (error) {
      if (error instanceof HttpError) {
        logger.info('request rejected', { route: event.routeKey, status: error.statusCode, error: error.error });
        return json(error.statusCode, { error: error.error, message: error.message });
      }
      // Retrying cannot fix it: a 4xx with the reason (messages carry ids, never personal data).
      const status = permanentStatus(error);
      if (status !== undefined && error instanceof Error) {
        logger.warn('request refused: permanent failure', { route: event.routeKey, status, error: error.name });
        return json(status, { error: error.name, message: error.message });
      }
      if (error instanceof TransactionConflictError) {
        logger.warn('request failed: contention', { route: event.routeKey });
        return { ...json(503, { error: 'Busy', message: 'other requests were changing the same items; nothing was written, retry shortly' }), headers: { ...json(503, {}).headers, 'retry-after': '1' } };
      }
      logger.error('request failed', { route: event.routeKey, error: error instanceof Error ? error.name : 'unknown' });
      return json(500, { error: 'InternalError', message: 'the request failed; it is safe to retry' });
    }
  });
}

/** A path parameter, validated. */
export function pathParameter<T extends z.ZodType>(event: APIGatewayProxyEventV2, name: string, schema: T): z.infer<T> {
  return validated(schema, event.pathParameters?.[name], 'InvalidPath');
}
