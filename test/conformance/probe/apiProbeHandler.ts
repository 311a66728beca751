/**
 * The API Gateway / schedule conformance probe: one Lambda behind an HTTP API (payload 2.0), the
 * routes of a WebSocket API, and a scheduled rule, so tests can see what the emulator hands a function
 * and what it does with the answer. Test-only.
 *
 * - HTTP: echoes what the event says (its top-level keys, method, rawPath, path parameters, body,
 *   isBase64Encoded, a few headers). `POST /things` with a JSON `{ name }` answers 201, with anything else 400;
 *   `GET /things/missing` answers 404, `GET /things/crash` throws (a function error).
 * - WebSocket: records each $connect / $default / $disconnect in the probe log: the $connect under
 *   `ws#<probe query parameter>` (so a test finds its connection id), the rest under `wsc#<connectionId>`.
 *   `$default` answers with a body, which AWS sends to the client only when a route response is set.
 * - Schedule: records each scheduled event under `schedule#<rule ARN>`.
 */
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import * as z from 'zod';
import { parseConfig } from '../../../functions/toolkit/config/parseConfig';

const config = parseConfig(z.object({ PROBE_LOG_TABLE: z.string().min(1) }));
const ddb = new DynamoDBClient({});

const httpEvent = z.object({
  version: z.literal('2.0'),
  routeKey: z.string(),
  rawPath: z.string(),
  headers: z.record(z.string(), z.string()).default({}),
  // nullish, not optional: MiniStack sends null where AWS leaves the key out (a known gap).
  pathParameters: z.record(z.string(), z.string()).nullish(),
  body: z.string().optional(),
  isBase64Encoded: z.boolean(),
  requestContext: z.object({ http: z.object({ method: z.string(), path: z.string() }), stage: z.string(), authorizer: z.object({ jwt: z.object({ claims: z.record(z.string(), z.unknown()) }) }).optional() }),
});

const wsEvent = z.object({
  requestContext: z.object({
    eventType: z.enum(['CONNECT', 'MESSAGE', 'DISCONNECT']),
    routeKey: z.string(),
    connectionId: z.string().min(1),
    stage: z.string(),
    domainName: z.string(),
    requestId: z.string(),
  }),
  queryStringParameters: z.record(z.string(), z.string()).nullish(),
  body: z.string().nullish(),
});

const scheduledEvent = z.object({
  source: z.literal('aws.events'),
  'detail-type': z.literal('Scheduled Event'),
  id: z.string(),
  time: z.string(),
  resources: z.array(z.string()).min(1),
});

const thing = z.object({ name: z.string().min(1) });

type HttpResult = { statusCode: number; headers: Record<string, string>; body: string };

const json = (statusCode: number, body: unknown): HttpResult => ({
  statusCode,
  headers: { 'content-type': 'application/json', 'x-probe': 'api' },
  body: JSON.stringify(body),
});

function onHttp(event: z.infer<typeof httpEvent>, keys: string[]): HttpResult {
  const echo = {
    keys,
    routeKey: event.routeKey,
    method: event.requestContext.http.method,
    rawPath: event.rawPath,
    stage: event.requestContext.stage,
    pathParameters: event.pathParameters ?? null,
    body: event.body ?? null,
    isBase64Encoded: event.isBase64Encoded,
    headers: { 'content-type': event.headers['content-type'] ?? null, origin: event.headers.origin ?? null },
    // The JWT authorizer's verified claims, as the function receives them (GET /secured).
    ...(event.requestContext.authorizer ? { claims: event.requestContext.authorizer.jwt.claims } : {}),
  };
  if (event.routeKey === 'POST /things') {
    let parsed: unknown;
    try {
      const text = event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : (event.body ?? '');
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const command = thing.safeParse(parsed);
    return command.success ? json(201, { ...echo, created: command.data.name }) : json(400, { error: 'InvalidCommand', message: 'a thing needs a name' });
  }
  if (event.pathParameters?.id === 'missing') return json(404, { error: 'ThingNotFound' });
  if (event.pathParameters?.id === 'crash') throw new Error('probe asked to crash');
  return json(200, echo);
}

async function record(pk: string, sk: string, detail: Record<string, unknown>): Promise<void> {
  await ddb.send(new PutItemCommand({ TableName: config.PROBE_LOG_TABLE, Item: marshall({ pk, sk, at: new Date().toISOString(), ...detail }, { removeUndefinedValues: true }) }));
}

async function onWebSocket(event: z.infer<typeof wsEvent>): Promise<HttpResult> {
  const { eventType, routeKey, connectionId, stage, domainName, requestId } = event.requestContext;
  const detail = { eventType, routeKey, connectionId, stage, domainName, body: event.body ?? undefined };
  if (eventType === 'CONNECT') {
    await record(`ws#${event.queryStringParameters?.probe ?? 'none'}`, `connect#${requestId}`, detail);
  } else {
    await record(`wsc#${connectionId}`, `${eventType.toLowerCase()}#${requestId}`, detail);
  }
  return { statusCode: 200, headers: {}, body: eventType === 'MESSAGE' ? 'probe-reply' : '' };
}

export const handler = async (event: unknown): Promise<HttpResult | void> => {
  const http = httpEvent.safeParse(event);
  if (http.success) return onHttp(http.data, Object.keys(event as object).sort());
  const ws = wsEvent.safeParse(event);
  if (ws.success) return onWebSocket(ws.data);
  const scheduled = scheduledEvent.parse(event);
  await record(`schedule#${scheduled.resources[0]}`, `${scheduled.time}#${scheduled.id}`, { time: scheduled.time });
};
