import * as z from 'zod';

/** Environment variables of the live-updates functions; `LiveUpdates` sets them from these names. */
export const LIVE_ENV = {
  /** The table of open WebSocket connections (string partition key `connectionId`). */
  connectionsTable: 'LIVE_CONNECTIONS_TABLE',
  /** How long a connection item lives (DynamoDB TTL), in seconds. API Gateway closes a connection after 2 h. */
  connectionTtlSeconds: 'LIVE_CONNECTION_TTL_SECONDS',
  /** The stage's `@connections` endpoint, `https://<api-id>.execute-api.<region>.amazonaws.com/<stage>`. */
  callbackUrl: 'LIVE_CALLBACK_URL',
  /** The `kind` of every pushed message, e.g. `board.row`. */
  messageKind: 'LIVE_MESSAGE_KIND',
  /** Where stream records that are not valid rows go, with the reason. */
  deadLetterQueueUrl: 'LIVE_DEAD_LETTER_QUEUE_URL',
  /** Connections pushed to at the same time. */
  maxConcurrency: 'LIVE_MAX_CONCURRENCY',
} as const;

/** Two hours: the longest an API Gateway WebSocket connection stays open. */
export const DEFAULT_CONNECTION_TTL_SECONDS = 2 * 60 * 60;

/** A message kind: lower-case words joined by dots or dashes, e.g. `board.row`. */
export const MessageKindSchema = z.string().regex(/^[a-z][a-z0-9]*([.-][a-z0-9]+)*$/, 'must look like `board.row`');

export const ConnectionsConfigSchema = z.object({
  [LIVE_ENV.connectionsTable]: z.string().min(1),
  [LIVE_ENV.connectionTtlSeconds]: z.coerce.number().int().min(60).default(DEFAULT_CONNECTION_TTL_SECONDS),
});
export type ConnectionsConfig = z.infer<typeof ConnectionsConfigSchema>;

export const PushConfigSchema = z.object({
  [LIVE_ENV.connectionsTable]: z.string().min(1),
  [LIVE_ENV.callbackUrl]: z.url(),
  [LIVE_ENV.messageKind]: MessageKindSchema,
  [LIVE_ENV.deadLetterQueueUrl]: z.url(),
  [LIVE_ENV.maxConcurrency]: z.coerce.number().int().min(1).max(200).default(20),
});
export type PushConfig = z.infer<typeof PushConfigSchema>;
