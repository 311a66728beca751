import { createHash } from 'node:crypto';
import type { TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';

/**
 * Where a consumer's inbox items live: its state table (the `EventConsumer`'s idempotency table),
 * key attribute `id`, TTL attribute `expiration` — beside Powertools' records and parked groups, which
 * use other id prefixes.
 */
export const INBOX = { keyAttribute: 'id', ttlAttribute: 'expiration', digestAttribute: 'digest', idPrefix: 'inbox#' } as const;

/**
 * "This consumer applied this message": written in the SAME DynamoDB transaction as the message's
 * effect (and the events it emits), on condition that it is not there yet. So the effect and the
 * record of it exist together or not at all: a crash anywhere leaves either both (a redelivery finds
 * the item and does nothing) or neither (a redelivery applies it, once).
 */
export interface InboxClaim {
  /** The consumer's state table. */
  readonly tableName: string;
  /** The message's id: an event's `id`, a saga command's `commandId`. */
  readonly messageId: string;
  /** What the message says (`digestOf`): the same id with other content is refused as poison. */
  readonly digest: string;
  /** Epoch seconds after which the item may expire (DynamoDB TTL); absent: kept for good. */
  readonly expiresAt?: number;
}

/** The inbox item's key. */
export const inboxKey = (messageId: string): { readonly id: string } => ({ id: `${INBOX.idPrefix}${messageId}` });

/**
 * A SHA-256 of a value's canonical JSON (object keys sorted), hex. Digest sealed values, never
 * opened personal data: a digest of a name is personal data too.
 */
export function digestOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The claim as a conditional put of a transaction: fails (ALL_OLD returned) if the item exists. */
export function inboxPut(claim: InboxClaim, now: Date): TransactWriteItem {
  return {
    Put: {
      TableName: claim.tableName,
      Item: marshall({
        ...inboxKey(claim.messageId),
        [INBOX.digestAttribute]: claim.digest,
        appliedAt: now.toISOString(),
        ...(claim.expiresAt === undefined ? {} : { [INBOX.ttlAttribute]: claim.expiresAt }),
      }),
      ConditionExpression: 'attribute_not_exists(#id)',
      ExpressionAttributeNames: { '#id': INBOX.keyAttribute },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}
