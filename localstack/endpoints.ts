/**
 * Addresses of API Gateway APIs on the local cloud. On AWS an API lives on its own host
 * (`https://<id>.execute-api.<region>.amazonaws.com/<stage>`), which does not resolve here; the
 * emulators (MiniStack and LocalStack alike) serve every API path-style on the one endpoint:
 * `<endpoint>/_aws/execute-api/<id>/<stage>/…`. Verified on MiniStack 1.5.33 by
 * test/conformance/apiGateway.test.ts. Nothing under lib/ or functions/ uses this file.
 */
import { endpointUrl } from './cloud';

/** The stage AWS serves from the root of an HTTP API's URL (no stage segment in the path). */
export const DEFAULT_STAGE = '$default';

const PATH_STYLE_PREFIX = '/_aws/execute-api';

/** The endpoint with `path` appended to its own path (usually none), without query or fragment. */
function at(endpoint: string, path: string): URL {
  const url = new URL(endpoint);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
  url.search = '';
  url.hash = '';
  return url;
}

function assertApiId(apiId: string): void {
  if (!/^[a-z0-9]+$/i.test(apiId)) throw new Error(`Not an API Gateway API id: ${JSON.stringify(apiId)}`);
}

/** `http://127.0.0.1:4566/_aws/execute-api/<id>` (+ `/<stage>` unless `$default`), without a trailing slash. */
function stageUrl(apiId: string, stage: string, endpoint: string): URL {
  assertApiId(apiId);
  if (stage === '' || stage.includes('/')) throw new Error(`Not a stage name: ${JSON.stringify(stage)}`);
  // As on AWS, `$default` serves from the root of the API's URL. (MiniStack also accepts an explicit
  // `/$default` segment, but a route whose first segment equals another stage's name would then be
  // ambiguous; the root form is the one both emulators and AWS share.)
  return at(endpoint, `${PATH_STYLE_PREFIX}/${apiId}${stage === DEFAULT_STAGE ? '' : `/${encodeURIComponent(stage)}`}`);
}

/**
 * The local base URL of an HTTP (or REST) API stage, to which a route's path is appended:
 * `localApiUrl(id) + '/orders'` → `http://127.0.0.1:4566/_aws/execute-api/<id>/orders`.
 */
export function localApiUrl(apiId: string, stage: string = DEFAULT_STAGE, endpoint: string = endpointUrl()): string {
  return stageUrl(apiId, stage, endpoint).toString();
}

/** The local URL a WebSocket client connects to: `ws://127.0.0.1:4566/_aws/execute-api/<id>/<stage>`. */
export function localWebSocketUrl(apiId: string, stage: string, endpoint: string = endpointUrl()): string {
  const url = stageUrl(apiId, stage, endpoint);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

/**
 * The local form of a WebSocket stage's callback URL (the `@connections` management API), usable as
 * the `endpoint` of `ApiGatewayManagementApiClient`: `http://127.0.0.1:4566/_aws/execute-api/<id>/<stage>`.
 * The SDK appends `/@connections/<connectionId>` to the endpoint's path.
 */
export function localCallbackUrl(apiId: string, stage: string, endpoint: string = endpointUrl()): string {
  return stageUrl(apiId, stage, endpoint).toString();
}

/**
 * `https://<id>.execute-api.<region>.amazonaws.com[/<path>]` (or `wss://`): an API's address on AWS,
 * as `WebSocketStage.callbackUrl`, `WebSocketStage.url` and `HttpApi.url` produce it.
 */
const AWS_API_URL = /^(https|wss):\/\/([a-z0-9]+)\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?(\/[^?#]*)?$/;

/**
 * The local path-style equivalent of an API address on AWS, or `undefined` when `value` is not one.
 * `https://abc123.execute-api.us-east-1.amazonaws.com/live` → `http://127.0.0.1:4566/_aws/execute-api/abc123/live`.
 */
export function toLocalApiUrl(value: string, endpoint: string = endpointUrl()): string | undefined {
  const match = AWS_API_URL.exec(value);
  if (!match) return undefined;
  const [, scheme, apiId, , rest] = match as unknown as [string, string, string, string, string | undefined];
  const url = at(endpoint, `${PATH_STYLE_PREFIX}/${apiId}${(rest ?? '').replace(/\/+$/, '')}`);
  if (scheme === 'wss') url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

/**
 * Where `npm start` and the browser tests serve the board page locally (scripts/boardServer.ts): a
 * fixed origin, because the coffee shop's API allows CORS from configured origins only, and the local
 * deploy configures this one (`coffee:allowedOrigins`, localstack/deploy.ts).
 */
export const LOCAL_BOARD_PORT = 4573;
export const LOCAL_BOARD_ORIGIN = `http://127.0.0.1:${LOCAL_BOARD_PORT}`;
