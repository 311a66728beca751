import type { Connection } from './ports';

/** The item a `$connect` stores: when it opened and when DynamoDB's TTL may drop it. */
export function newConnection(connectionId: string, connectedAtMs: number, ttlSeconds: number): Connection {
  return {
    connectionId,
    connectedAt: new Date(connectedAtMs).toISOString(),
    expiresAt: Math.floor(connectedAtMs / 1000) + ttlSeconds,
  };
}
