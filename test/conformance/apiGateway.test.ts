import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import {
  CloudFormationClient,
  CreateStackCommand,
  DeleteStackCommand,
  DescribeStacksCommand,
  waitUntilStackCreateComplete,
} from '@aws-sdk/client-cloudformation';
import { DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { DescribeRuleCommand, EventBridgeClient, ListTargetsByRuleCommand } from '@aws-sdk/client-eventbridge';
import { GetFunctionConfigurationCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { request } from 'node:http';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as z from 'zod';
import { endpointUrl } from '../../localstack/cloud';
import { localApiUrl, localCallbackUrl, localWebSocketUrl, toLocalApiUrl } from '../../localstack/endpoints';
import { eventually, unique } from '../support/eventually';
import { knownGap } from '../support/knownGap';
import { probe } from './probeLog';

// AWS behaviour relied on by the coffee shop's HTTP API, its live order board (WebSocket API with
// server push) and its business probe (a scheduled rule). The probe resources are in
// test/conformance/probe/ProbeStack.ts; the local addresses come from localstack/endpoints.ts.

const echo = z.object({
  keys: z.array(z.string()),
  routeKey: z.string(),
  method: z.string(),
  rawPath: z.string(),
  stage: z.string(),
  pathParameters: z.record(z.string(), z.string()).nullable(),
  body: z.string().nullable(),
  isBase64Encoded: z.boolean(),
  headers: z.object({ 'content-type': z.string().nullable(), origin: z.string().nullable() }),
  created: z.string().optional(),
});

const ORIGIN = 'http://localhost:5173'; // a browser page served from another origin

const api = () => localApiUrl(probe().HttpApiId!);

describe('API Gateway HTTP API → Lambda proxy, payload 2.0 (conformance)', () => {
  it('delivers a POST as a 2.0 event (method, rawPath, route, JSON body) and answers with the status, headers and body the function returns', async () => {
    // arrange
    const body = JSON.stringify({ name: 'flat white' });

    // act
    const response = await fetch(`${api()}/things`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

    // assert
    expect(response.status).toBe(201);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('x-probe')).toBe('api');
    const seen = echo.parse(await response.json());
    expect(seen).toMatchObject({ routeKey: 'POST /things', method: 'POST', rawPath: '/things', stage: '$default', body, isBase64Encoded: false, created: 'flat white' });
    expect(seen.headers['content-type']).toBe('application/json');
  });

  it('fills path parameters from the route template and sends no body for a GET', async () => {
    // act
    const response = await fetch(`${api()}/things/order-42`);

    // assert
    expect(response.status).toBe(200);
    const seen = echo.parse(await response.json());
    expect(seen).toMatchObject({ routeKey: 'GET /things/{id}', method: 'GET', rawPath: '/things/order-42', pathParameters: { id: 'order-42' }, body: null });
    expect(seen.keys).not.toContain('body');
  });

  it('base64-encodes a body whose content type is not a text type (isBase64Encoded: true)', async () => {
    // arrange
    const body = JSON.stringify({ name: 'mocha' });

    // act
    const response = await fetch(`${api()}/things`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body });

    // assert
    expect(response.status).toBe(201);
    const seen = echo.parse(await response.json());
    expect(seen.isBase64Encoded).toBe(true);
    expect(seen.body).toBe(Buffer.from(body).toString('base64'));
  });

  it('passes the function’s error statuses through, and answers 404 Not Found itself when no route matches', async () => {
    // act
    const invalid = await fetch(`${api()}/things`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"colour":"red"}' });
    const missing = await fetch(`${api()}/things/missing`);
    const noRoute = await fetch(`${api()}/nothing/here`);
    const noMethod = await fetch(`${api()}/things`); // only POST /things exists

    // assert
    expect([invalid.status, await invalid.json()]).toEqual([400, { error: 'InvalidCommand', message: 'a thing needs a name' }]);
    expect([missing.status, await missing.json()]).toEqual([404, { error: 'ThingNotFound' }]);
    expect([noRoute.status, await noRoute.json()]).toEqual([404, { message: 'Not Found' }]);
    expect([noMethod.status, await noMethod.json()]).toEqual([404, { message: 'Not Found' }]);
  });

  it('lets a browser on another origin call it: answers the CORS preflight and adds Access-Control-Allow-Origin to responses', async () => {
    // act
    const preflight = await fetch(`${api()}/things`, {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    const get = await fetch(`${api()}/things/order-7`, { headers: { origin: ORIGIN } });

    // assert
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-methods')?.split(/\s*,\s*/).sort()).toEqual(['GET', 'POST']);
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toBe('content-type');
    expect(get.status).toBe(200);
    expect(get.headers.get('access-control-allow-origin')).toBe('*');
    expect(echo.parse(await get.json()).headers.origin).toBe(ORIGIN);
  });

  knownGap('leaves pathParameters out of the event of a route without path parameters', 'handlers parse pathParameters as nullish, not optional', async () => {
    // act
    const response = await fetch(`${api()}/things`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"tea"}' });

    // assert (MiniStack sends "pathParameters": null)
    expect(response.status).toBe(201);
    expect(echo.parse(await response.json()).keys).not.toContain('pathParameters');
  });

  knownGap('answers a function error with 500 {"message":"Internal Server Error"}, not the error', 'handlers map their errors to explicit status codes; tests never rely on a thrown error’s status', async () => {
    // act
    const response = await fetch(`${api()}/things/crash`);

    // assert (MiniStack: 502 with the function's errorMessage and errorType)
    expect([response.status, await response.json()]).toEqual([500, { message: 'Internal Server Error' }]);
  });

  describe('CloudFormation', () => {
    const cfn = new CloudFormationClient({});
    const stackName = unique('conf-cors');
    afterAll(async () => {
      await cfn.send(new DeleteStackCommand({ StackName: stackName })).catch(() => undefined);
    });

    knownGap(
      'applies an HTTP API’s CorsConfiguration (the preflight is answered as configured)',
      'localstack/fixups.ts re-applies it with UpdateApi after each local deploy',
      async () => {
        // arrange: a bare HTTP API from a template, without the local deploy's fixups
        const template = {
          Resources: {
            Api: { Type: 'AWS::ApiGatewayV2::Api', Properties: { Name: stackName, ProtocolType: 'HTTP', CorsConfiguration: { AllowOrigins: ['*'], AllowMethods: ['GET'] } } },
            Stage: { Type: 'AWS::ApiGatewayV2::Stage', Properties: { ApiId: { Ref: 'Api' }, StageName: '$default', AutoDeploy: true } },
          },
          Outputs: { ApiId: { Value: { Ref: 'Api' } } },
        };
        await cfn.send(new CreateStackCommand({ StackName: stackName, TemplateBody: JSON.stringify(template) }));
        await waitUntilStackCreateComplete({ client: cfn, maxWaitTime: 120 }, { StackName: stackName });
        const outputs = (await cfn.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0]?.Outputs ?? [];
        const apiId = outputs.find((o) => o.OutputKey === 'ApiId')?.OutputValue ?? '';

        // act
        const preflight = await fetch(`${localApiUrl(apiId)}/anything`, { method: 'OPTIONS', headers: { origin: ORIGIN, 'access-control-request-method': 'GET' } });

        // assert (MiniStack: 403 {"message": "CORS origin denied"})
        expect(preflight.status).toBe(204);
        expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
      },
      150_000,
    );
  });
});

/** A WebSocket client that keeps every message it receives. */
class Client {
  readonly messages: string[] = [];
  readonly socket: WebSocket;
  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data) => this.messages.push(data.toString()));
  }

  static async connect(url: string): Promise<Client> {
    const socket = new WebSocket(url);
    const client = new Client(socket);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no WebSocket connection to ${url} within 15 s`)), 15_000);
      socket.once('open', () => (clearTimeout(timer), resolve()));
      socket.once('error', (error) => (clearTimeout(timer), reject(error)));
      socket.once('unexpected-response', (_request, response) => (clearTimeout(timer), reject(new Error(`handshake answered HTTP ${response.statusCode}`))));
    });
    return client;
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close(1000, 'done');
    });
  }
}

const logged = z.object({ pk: z.string(), sk: z.string(), eventType: z.string(), routeKey: z.string(), connectionId: z.string(), stage: z.string(), body: z.string().optional() });

async function probeLog(pk: string): Promise<Array<z.infer<typeof logged>>> {
  const result = await new DynamoDBClient({}).send(
    new QueryCommand({ TableName: probe().LogTableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: marshall({ ':pk': pk }), ConsistentRead: true }),
  );
  return (result.Items ?? []).map((item) => logged.parse(unmarshall(item)));
}

/** Connects with a probe id in the query string and returns the connection id the $connect route saw. */
async function connect(): Promise<{ client: Client; connectionId: string }> {
  const probeId = unique('ws');
  const client = await Client.connect(`${localWebSocketUrl(probe().LiveApiId!, 'live')}?probe=${probeId}`);
  const [connected] = await eventually(() => probeLog(`ws#${probeId}`), (items) => items.length > 0, { what: 'the $connect invocation', timeoutMs: 15_000 });
  return { client, connectionId: connected!.connectionId };
}

const pushOutcome = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), endpoint: z.string() }),
  z.object({ ok: z.literal(false), endpoint: z.string(), error: z.string(), httpStatusCode: z.number().optional() }),
]);

async function pushFromFunction(connectionId: string, data: string): Promise<z.infer<typeof pushOutcome>> {
  const result = await new LambdaClient({}).send(
    new InvokeCommand({ FunctionName: probe().PushFunctionName, Payload: new TextEncoder().encode(JSON.stringify({ connectionId, data })) }),
  );
  expect(result.FunctionError).toBeUndefined();
  return pushOutcome.parse(JSON.parse(new TextDecoder().decode(result.Payload)));
}

describe('API Gateway WebSocket API: routes and server push (conformance)', () => {
  const clients: Client[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  it('invokes $connect with a connection id, $default with each message, and $disconnect after the client closes', async () => {
    // arrange / act
    const { client, connectionId } = await connect();
    clients.push(client);
    client.socket.send(JSON.stringify({ hello: 'board' }));
    const messages = await eventually(() => probeLog(`wsc#${connectionId}`), (items) => items.some((i) => i.eventType === 'MESSAGE'), { what: 'the $default invocation', timeoutMs: 15_000 });
    await client.close();
    const all = await eventually(() => probeLog(`wsc#${connectionId}`), (items) => items.some((i) => i.eventType === 'DISCONNECT'), { what: 'the $disconnect invocation', timeoutMs: 15_000 });

    // assert
    expect(connectionId).toMatch(/\S{8,}/);
    expect(messages.find((i) => i.eventType === 'MESSAGE')).toMatchObject({ routeKey: '$default', stage: 'live', body: JSON.stringify({ hello: 'board' }) });
    expect(all.find((i) => i.eventType === 'DISCONNECT')).toMatchObject({ routeKey: '$disconnect', connectionId, stage: 'live' });
  });

  it('delivers a PostToConnection from a function (endpoint = the stage callback URL) to the client, and answers GoneException (410) once the client is gone', async () => {
    // arrange
    const { client, connectionId } = await connect();
    clients.push(client);
    const pushed = JSON.stringify({ kind: 'board.row', row: { orderId: unique('order'), revision: 1 } });

    // act
    const outcome = await pushFromFunction(connectionId, pushed);
    await eventually(async () => client.messages, (m) => m.includes(pushed), { what: 'the pushed message', timeoutMs: 10_000 });
    await client.close();
    await eventually(() => probeLog(`wsc#${connectionId}`), (items) => items.some((i) => i.eventType === 'DISCONNECT'), { what: 'the $disconnect invocation', timeoutMs: 15_000 });
    const afterClose = await pushFromFunction(connectionId, pushed);

    // assert
    expect(outcome).toEqual({ ok: true, endpoint: localCallbackUrl(probe().LiveApiId!, 'live') }); // rewritten by localstack/fixups.ts
    expect(afterClose).toMatchObject({ ok: false, error: 'GoneException', httpStatusCode: 410 });
  });

  it('accepts PostToConnection through the SDK with the local path-style endpoint (the base path is kept)', async () => {
    // arrange
    const { client, connectionId } = await connect();
    clients.push(client);
    const management = new ApiGatewayManagementApiClient({ endpoint: localCallbackUrl(probe().LiveApiId!, 'live') });

    // act
    await management.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: new TextEncoder().encode('direct') }));

    // assert
    await eventually(async () => client.messages, (m) => m.includes('direct'), { what: 'the message posted by the SDK', timeoutMs: 10_000 });
    await expect(management.send(new PostToConnectionCommand({ ConnectionId: 'no-such-connection', Data: new TextEncoder().encode('x') }))).rejects.toMatchObject({
      name: 'GoneException',
      $metadata: { httpStatusCode: 410 },
    });
  });

  it('gives a function the stage callback URL in the local path-style form after the local deploy', async () => {
    // act
    const config = await new LambdaClient({}).send(new GetFunctionConfigurationCommand({ FunctionName: probe().PushFunctionName }));

    // assert (CloudFormation gave https://<id>.execute-api.<region>.amazonaws.com/live, which does not resolve here)
    expect(probe().LiveCallbackUrl).toMatch(/^https:\/\/[a-z0-9]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com\/live$/);
    expect(config.Environment?.Variables?.PROBE_CALLBACK_URL).toBe(localCallbackUrl(probe().LiveApiId!, 'live'));
  });

  knownGap(
    'serves the @connections API on the callback URL’s own host (<id>.execute-api.<region>.amazonaws.com)',
    'localstack/fixups.ts rewrites such URLs in function environments to the path-style form',
    async () => {
      // act: sent to the local endpoint only, with the callback URL's host in the Host header
      const callback = new URL(probe().LiveCallbackUrl!);
      const local = new URL(endpointUrl());
      const status = await new Promise<{ status: number; errorType: string | undefined }>((resolve, reject) => {
        const req = request(
          { host: local.hostname, port: local.port, method: 'POST', path: `${callback.pathname}/@connections/no-such-connection`, headers: { host: callback.host, 'content-type': 'application/json' } },
          (res) => {
            res.resume();
            resolve({ status: res.statusCode ?? 0, errorType: res.headers['x-amzn-errortype']?.toString() });
          },
        );
        req.on('error', reject);
        req.end('{}');
      });

      // assert (MiniStack: 404 NotFoundException — it knows only <id>.execute-api.<its own host>)
      expect(status).toEqual({ status: 410, errorType: 'GoneException' });
    },
  );

  knownGap(
    'sends a $default integration’s response body to the client only when the route has a route response',
    'our handlers of WebSocket routes return a status code and no body',
    async () => {
      // arrange
      const { client, connectionId } = await connect();
      clients.push(client);

      // act: the probe's $default answers { statusCode: 200, body: 'probe-reply' }; the route has no route response
      client.socket.send('ping');
      await eventually(() => probeLog(`wsc#${connectionId}`), (items) => items.some((i) => i.eventType === 'MESSAGE'), { what: 'the $default invocation', timeoutMs: 15_000 });
      const settle = Date.now() + 1500;
      await eventually(async () => Date.now(), (now) => now > settle || client.messages.length > 0, { what: 'a reply', timeoutMs: 5_000 });

      // assert (MiniStack sends 'probe-reply' to the client)
      expect(client.messages).toEqual([]);
    },
  );
});

describe('EventBridge scheduled rule (conformance, CloudFormation only: the suite does not wait for the clock)', () => {
  it('creates the rate(1 minute) rule, enabled, on the default bus, targeting the probe function', async () => {
    // arrange
    const events = new EventBridgeClient({});
    const functionArn = (await new LambdaClient({}).send(new GetFunctionConfigurationCommand({ FunctionName: probe().ApiProbeFunctionName }))).FunctionArn;

    // act
    const rule = await events.send(new DescribeRuleCommand({ Name: probe().ScheduleRuleName }));
    const targets = await events.send(new ListTargetsByRuleCommand({ Rule: probe().ScheduleRuleName }));

    // assert
    expect(rule).toMatchObject({ ScheduleExpression: 'rate(1 minute)', State: 'ENABLED', Arn: probe().ScheduleRuleArn });
    expect(rule.EventBusName ?? 'default').toBe('default');
    expect(targets.Targets?.map((t) => t.Arn)).toEqual([functionArn]);
  });
});

describe('local API addresses (localstack/endpoints.ts)', () => {
  it('maps AWS API addresses to the path-style form on the local endpoint, and nothing else', () => {
    const local = 'http://127.0.0.1:4566';
    expect(localApiUrl('a1b2c3d4', '$default', local)).toBe(`${local}/_aws/execute-api/a1b2c3d4`);
    expect(localApiUrl('a1b2c3d4', 'prod', `${local}/`)).toBe(`${local}/_aws/execute-api/a1b2c3d4/prod`);
    expect(localWebSocketUrl('a1b2c3d4', 'live', local)).toBe('ws://127.0.0.1:4566/_aws/execute-api/a1b2c3d4/live');
    expect(toLocalApiUrl('https://a1b2c3d4.execute-api.eu-west-1.amazonaws.com/live', local)).toBe(localCallbackUrl('a1b2c3d4', 'live', local));
    expect(toLocalApiUrl('wss://a1b2c3d4.execute-api.eu-west-1.amazonaws.com/live/', local)).toBe(localWebSocketUrl('a1b2c3d4', 'live', local));
    expect(toLocalApiUrl('https://a1b2c3d4.execute-api.eu-west-1.amazonaws.com/', local)).toBe(localApiUrl('a1b2c3d4', '$default', local));
    expect(toLocalApiUrl('https://example.com/live', local)).toBeUndefined();
    expect(toLocalApiUrl(`${local}/_aws/execute-api/a1b2c3d4/live`, local)).toBeUndefined();
  });
});
