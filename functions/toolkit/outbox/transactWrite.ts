import {
  GetItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  type CancellationReason,
  type DynamoDBClient,
  type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { newEventId } from '../envelope';
import { AlreadyAppliedError, MessageIdReusedError } from '../inbox/errors';
import { INBOX, inboxKey, inboxPut, type InboxClaim } from '../inbox/inbox';
import { backoffDelay, sleep, type BackoffPolicy } from '../retry/backoff';
import { TransactionConflictError } from './errors';

export interface TransactOptions {
  /** Records the message as applied in the same transaction (see `InboxClaim`). */
  readonly inbox?: InboxClaim;
  /**
   * Makes the SDK's own retries idempotent when a response is lost after the write took effect.
   * @default a new id per attempt
   */
  readonly clientRequestToken?: string;
  /**
   * Attempts when DynamoDB cancels the transaction for a `TransactionConflict` (another transaction
   * was writing one of its items at the same moment): the same transaction is sent again after a
   * jittered backoff. Its conditions are checked again on the fresh state, so a decision that no
   * longer holds fails its condition instead of being applied.
   * @default 5 attempts, 25 ms–1 s
   */
  readonly conflictRetry?: BackoffPolicy;
  readonly clock?: () => Date;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

const DEFAULT_CONFLICT_RETRY: BackoffPolicy = { maxAttempts: 5, baseDelayMs: 25, maxDelayMs: 1000 };

/**
 * One `TransactWriteItems` call, the way the toolkit writes every transaction:
 * - with `inbox`, the claim's item is added; if it exists already the message was applied before
 *   (`AlreadyAppliedError`), or another message reused its id (`MessageIdReusedError`, poison);
 * - a `TransactionConflict` cancellation is transient: retried with backoff and jitter (a new token
 *   per attempt: the cancelled attempt wrote nothing), then `TransactionConflictError`;
 * - any other cancellation is rethrown as is, its reasons in the order of `items` (the inbox item,
 *   if any, comes last), for the caller to translate.
 */
export async function transactWrite(client: DynamoDBClient, items: readonly TransactWriteItem[], options: TransactOptions = {}): Promise<void> {
  const clock = options.clock ?? (() => new Date());
  const policy = options.conflictRetry ?? DEFAULT_CONFLICT_RETRY;
  const all = options.inbox ? [...items, inboxPut(options.inbox, clock())] : [...items];
  for (let attempt = 1; ; attempt++) {
    try {
      await client.send(
        new TransactWriteItemsCommand({
          TransactItems: all,
          ClientRequestToken: attempt === 1 && options.clientRequestToken !== undefined ? options.clientRequestToken : newEventId(),
        }),
      );
      return;
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      if (options.inbox) await checkInbox(client, options.inbox, reasons[all.length - 1], error);
      // A failed condition is final (the caller translates it); a conflict alone is worth another try.
      if (reasons.some((reason) => reason.Code === 'ConditionalCheckFailed') || !reasons.some((reason) => reason.Code === 'TransactionConflict')) throw error;
      if (attempt >= policy.maxAttempts) throw new TransactionConflictError(attempt, { cause: error });
      await (options.sleep ?? sleep)(backoffDelay(policy, attempt, options.random));
    }
  }
}

/** Throws when the inbox item's condition failed: applied before, or an id reused with other content. */
async function checkInbox(client: DynamoDBClient, claim: InboxClaim, reason: CancellationReason | undefined, cause: unknown): Promise<void> {
  if (reason?.Code !== 'ConditionalCheckFailed') return;
  let old = reason.Item ? unmarshall(reason.Item) : undefined;
  if (old === undefined) {
    // Not every DynamoDB implementation returns the old item with the reason: read it.
    const got = await client.send(new GetItemCommand({ TableName: claim.tableName, Key: marshall(inboxKey(claim.messageId)), ConsistentRead: true }));
    old = got.Item ? unmarshall(got.Item) : undefined;
  }
  const digest = old?.[INBOX.digestAttribute];
  if (typeof digest === 'string' && digest !== claim.digest) throw new MessageIdReusedError(claim.messageId, { cause });
  throw new AlreadyAppliedError(claim.messageId, { cause });
}
