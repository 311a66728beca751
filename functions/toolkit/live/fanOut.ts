import { forEachWithConcurrency } from './forEachWithConcurrency';
import type { ConnectionPusher, ConnectionStore } from './ports';

/** One message to push, named by the stream record it came from. */
export interface OutgoingMessage {
  /** The stream record's sequence number: what a partial batch response reports. */
  readonly id: string;
  /** The serialized message; never logged. */
  readonly data: string;
}

export interface FanOutResult {
  readonly connections: number;
  /** Messages accepted by API Gateway, all connections together. */
  readonly sent: number;
  /** Connections that answered `GoneException`: their clients left without a `$disconnect`. */
  readonly gone: number;
  /** Gone connections whose item could not be deleted (the next push or the TTL removes them). */
  readonly goneNotRemoved: number;
  /** Connections that failed with any other error (after the SDK's retries). */
  readonly failed: number;
  /**
   * Failed connections closed and removed because other connections took the messages: one client's
   * failure never makes the batch retry for everyone. Their clients reconnect and reload.
   */
  readonly dropped: number;
  /**
   * When every connection tried failed (the `@connections` API throttled or down): the earliest
   * message some connection failed on, to retry the batch from. `undefined` otherwise.
   */
  readonly firstFailedIndex: number | undefined;
  /** Names of the errors (never their messages, which may quote data). */
  readonly errorNames: readonly string[];
}

export interface FanOutDependencies {
  readonly store: ConnectionStore;
  readonly pusher: ConnectionPusher;
  /** Connections pushed to at the same time. */
  readonly maxConcurrency: number;
}

/**
 * Pushes `messages` to every open connection. Each connection gets them one after the other, in
 * order (so a client sees a row's revisions in the order they were made); connections are served
 * concurrently, at most `maxConcurrency` at once, page by page.
 *
 * A connection that answers Gone is deleted and skipped: a client that left is never a failure. Any
 * other error stops that connection's messages. If other connections took them, the failing ones are
 * closed and removed (their clients reconnect and reload a snapshot), and the batch succeeds: one
 * client never makes it retry for everyone. If every connection failed, nothing is dropped and the
 * earliest failed message is reported as `firstFailedIndex`, so the caller retries from there
 * (clients that already got a message then get it again, which they ignore by its revision). A
 * failure to list the connections throws.
 */
export async function fanOut(messages: readonly OutgoingMessage[], { store, pusher, maxConcurrency }: FanOutDependencies): Promise<FanOutResult> {
  let connections = 0;
  let sent = 0;
  let gone = 0;
  let goneNotRemoved = 0;
  let failed = 0;
  let dropped = 0;
  let firstFailedIndex: number | undefined;
  /** Connections that took every message, or left: proof that the push itself works. */
  let healthy = 0;
  const failing: string[] = [];
  const errorNames = new Set<string>();
  const noteError = (error: unknown) => errorNames.add(error instanceof Error ? error.name : typeof error);
  if (messages.length === 0) return { connections, sent, gone, goneNotRemoved, failed, dropped, firstFailedIndex, errorNames: [] };

  const pushTo = async (connectionId: string): Promise<void> => {
    for (const [index, message] of messages.entries()) {
      let outcome: 'sent' | 'gone';
      try {
        outcome = await pusher.post(connectionId, message.data);
      } catch (error) {
        failed++;
        failing.push(connectionId);
        firstFailedIndex = Math.min(firstFailedIndex ?? index, index);
        noteError(error);
        return;
      }
      if (outcome === 'gone') {
        gone++;
        healthy++;
        try {
          await store.remove(connectionId);
        } catch (error) {
          // Not a failure of the push: the connection is gone either way, and its item is removed by
          // the next push that meets it or by the TTL. Counted and logged by the caller.
          goneNotRemoved++;
          noteError(error);
        }
        return;
      }
      sent++;
    }
    healthy++;
  };

  /** Closes and forgets a failing connection; each step best-effort (the TTL ends it anyway). */
  const drop = async (connectionId: string): Promise<void> => {
    dropped++;
    await pusher.close(connectionId).catch(noteError);
    await store.remove(connectionId).catch(noteError);
  };

  for await (const page of store.pages()) {
    connections += page.length;
    await forEachWithConcurrency(page, maxConcurrency, pushTo);
  }
  if (failing.length > 0 && healthy > 0) {
    await forEachWithConcurrency(failing, maxConcurrency, drop);
    firstFailedIndex = undefined;
  }
  return { connections, sent, gone, goneNotRemoved, failed, dropped, firstFailedIndex, errorNames: [...errorNames].sort() };
}
