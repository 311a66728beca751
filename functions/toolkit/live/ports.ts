/** An open WebSocket connection as the connections table keeps it. */
export interface Connection {
  readonly connectionId: string;
  /** ISO-8601. */
  readonly connectedAt: string;
  /** Epoch seconds: DynamoDB's TTL removes the item after this (API Gateway closes connections after 2 h). */
  readonly expiresAt: number;
}

/** The open connections of one WebSocket stage. */
export interface ConnectionStore {
  add(connection: Connection): Promise<void>;
  /** Idempotent: removing an unknown connection is not an error. */
  remove(connectionId: string): Promise<void>;
  /** Every connection id, one page at a time (memory stays bounded however many clients there are). */
  pages(): AsyncIterable<readonly string[]>;
}

/**
 * Sends one message to one connection. `gone` when the client is no longer connected (API Gateway's
 * `GoneException`, HTTP 410); throws on any other failure, after the SDK's own retries.
 */
export interface ConnectionPusher {
  post(connectionId: string, data: string): Promise<'sent' | 'gone'>;
  /** Closes the connection (its client reconnects and reloads); one already gone is closed. */
  close(connectionId: string): Promise<void>;
}
