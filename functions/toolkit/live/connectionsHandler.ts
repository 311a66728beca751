import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseConfig } from '../config/parseConfig';
import { newConnection } from './connections';
import { DynamoConnectionStore } from './DynamoConnectionStore';
import { ConnectionsConfigSchema, LIVE_ENV } from './liveConfig';
import { WebSocketEventSchema, type WebSocketResponse } from './webSocketEvent';
import { instrument, withApiCallLog } from '../observability';

const config = parseConfig(ConnectionsConfigSchema);
const logger = new Logger({ serviceName: 'live-updates' });
const store = new DynamoConnectionStore(instrument(new DynamoDBClient({})), config[LIVE_ENV.connectionsTable]);

/**
 * The WebSocket API's `$connect`, `$disconnect` and `$default` routes: remembers each open
 * connection (with a TTL, as a `$disconnect` is not guaranteed), forgets it on `$disconnect`, and
 * accepts and ignores any message (a client may send one to keep an idle connection open; the
 * server only pushes).
 */
export const handler = withApiCallLog(async (event: unknown): Promise<WebSocketResponse> => {
  const parsed = WebSocketEventSchema.safeParse(event);
  if (!parsed.success) {
    logger.error('not a WebSocket route event', { problems: parsed.error.issues.map((issue) => issue.path.join('.') || '(event)') });
    return { statusCode: 400 };
  }
  const { eventType, connectionId, connectedAt } = parsed.data.requestContext;
  switch (eventType) {
    case 'CONNECT':
      await store.add(newConnection(connectionId, connectedAt ?? Date.now(), config[LIVE_ENV.connectionTtlSeconds]));
      logger.info('connected', { connectionId });
      return { statusCode: 200 };
    case 'DISCONNECT':
      await store.remove(connectionId);
      logger.info('disconnected', { connectionId });
      return { statusCode: 200 };
    case 'MESSAGE':
      return { statusCode: 200 };
  }
});
