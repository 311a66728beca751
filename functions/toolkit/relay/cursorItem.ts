/**
 * The relay's cursor table: one item per stream (partition key + subject) with the last sequence
 * published to every target. Shared by the relay and the construct that creates the table.
 */
export const CURSOR = {
  /** The events' partition key, as is. */
  partitionKey: 'pk',
  /** The events' subject (the aggregate id). */
  sortKey: 'sk',
  sequenceAttribute: 'sequence',
  /** Epoch seconds after which DynamoDB TTL may delete the cursor; absent when events are kept for good. */
  ttlAttribute: 'expiresAt',
} as const;
