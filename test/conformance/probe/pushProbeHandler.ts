/**
 * The server-push probe: sends `data` to a WebSocket connection with PostToConnection, through the
 * SDK client addressed by the stage's callback URL (the env var, exactly as a production function
 * gets it from `WebSocketStage.callbackUrl`), and says what happened, so a test can see both a
 * delivered push and the error of a push to a closed connection. Test-only.
 */
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import * as z from 'zod';
import { parseConfig } from '../../../functions/toolkit/config/parseConfig';

const config = parseConfig(z.object({ PROBE_CALLBACK_URL: z.url() }));
const client = new ApiGatewayManagementApiClient({ endpoint: config.PROBE_CALLBACK_URL });

const command = z.object({ connectionId: z.string().min(1), data: z.string() });

export type PushOutcome =
  | { readonly ok: true; readonly endpoint: string }
  | { readonly ok: false; readonly endpoint: string; readonly error: string; readonly httpStatusCode?: number };

export const handler = async (event: unknown): Promise<PushOutcome> => {
  const { connectionId, data } = command.parse(event);
  try {
    await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: new TextEncoder().encode(data) }));
    return { ok: true, endpoint: config.PROBE_CALLBACK_URL };
  } catch (error) {
    // Reported, not swallowed: the test asserts on the error's name and status (e.g. GoneException, 410).
    const failure = error as { name?: string; $metadata?: { httpStatusCode?: number } };
    return { ok: false, endpoint: config.PROBE_CALLBACK_URL, error: failure.name ?? 'Error', httpStatusCode: failure.$metadata?.httpStatusCode };
  }
};
