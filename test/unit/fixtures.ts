import type { AttributeValue, DynamoDBRecord } from 'aws-lambda';
import { ORDER_PLACED, type OrderPlaced } from '../../functions/coffee/orders/placeOrder';
import { buildEvent, newEventId, newTraceparent, type EventEnvelope } from '../../functions/toolkit/envelope';
import { toOutboxItem } from '../../functions/toolkit/outbox/outboxItem';

/** A fixed commit time, so that expected values can be written down. */
export const COMMIT_TIME = new Date('2025-03-01T08:30:00.250Z');

let orders = 0;

/** A `coffee.order.placed` event as the outbox commits it (a fresh UUID v7 id, sequence 1). */
export function orderPlaced(
  overrides: { orderId?: string; partitionkey?: string; traceparent?: string; data?: Partial<OrderPlaced> } = {},
): EventEnvelope<OrderPlaced> {
  const orderId = overrides.orderId ?? `o-${++orders}`;
  return buildEvent<OrderPlaced>({
    id: newEventId(),
    source: 'coffee.orders',
    type: ORDER_PLACED,
    subject: orderId,
    sequence: 1,
    time: COMMIT_TIME,
    traceparent: overrides.traceparent ?? newTraceparent(),
    ...(overrides.partitionkey === undefined ? {} : { partitionkey: overrides.partitionkey }),
    data: {
      orderId,
      lines: [{ product: 'latte', size: 'medium', quantity: 1, priceCents: 380 }],
      totalCents: 380,
      placedAt: COMMIT_TIME.toISOString(),
      ...overrides.data,
    },
  });
}

/**
 * The `sequence`-th `test.counter.incremented` of counter `subject` (an aggregate whose every commit
 * raises its version by one), under `partitionkey` (default: the subject). `counterIncrements`
 * gives a counter's events 1..count as its commits wrote them.
 */
export function counterIncremented(subject: string, sequence: number, partitionkey?: string): EventEnvelope<{ value: number }> {
  return buildEvent({
    id: newEventId(),
    source: 'test.relay',
    type: 'test.counter.incremented',
    subject,
    sequence,
    time: COMMIT_TIME,
    traceparent: newTraceparent(),
    ...(partitionkey === undefined ? {} : { partitionkey }),
    data: { value: sequence },
  });
}

export const counterIncrements = (subject: string, count: number, partitionkey?: string): Array<EventEnvelope<{ value: number }>> =>
  Array.from({ length: count }, (_, i) => counterIncremented(subject, i + 1, partitionkey));

/** The n-th stream sequence number of a shard (they are large decimal strings that grow). */
export const streamSequenceNumber = (n: number): string => (10n ** 20n + BigInt(n)).toString();

const attribute = (value: string | number): AttributeValue =>
  typeof value === 'number' ? { N: String(value) } : { S: value };

/**
 * A DynamoDB stream INSERT of an outbox item, as the relay receives it. `envelope` is an event (its
 * outbox item, exactly as the outbox writes it), a raw string stored as the `envelope` attribute
 * (e.g. broken JSON), or `undefined` for an item without that attribute.
 */
export function streamRecord(
  envelope: EventEnvelope | string | undefined,
  sequenceNumber: string,
  keys: { pk: string; sk: string } = { pk: 'OUTBOX#o-broken', sk: 'o-broken#000000000000001' },
  expiresAt?: number,
): DynamoDBRecord {
  const item: Record<string, string | number> =
    typeof envelope === 'object'
      ? toOutboxItem(envelope, expiresAt)
      : { ...keys, kind: 'outbox-event', ...(envelope === undefined ? {} : { envelope }) };
  const image = Object.fromEntries(Object.entries(item).map(([name, value]) => [name, attribute(value)]));
  return {
    eventID: `event-${sequenceNumber}`,
    eventName: 'INSERT',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'eu-west-1',
    dynamodb: {
      ApproximateCreationDateTime: COMMIT_TIME.getTime() / 1000,
      Keys: { pk: image.pk!, sk: image.sk! },
      NewImage: image,
      SequenceNumber: sequenceNumber,
      SizeBytes: JSON.stringify(image).length,
      StreamViewType: 'NEW_IMAGE',
    },
    eventSourceARN: 'arn:aws:dynamodb:eu-west-1:123456789012:table/coffee-orders/stream/2025-03-01T00:00:00.000',
  };
}

/** The error a call throws, so that its fields can be checked; fails the test when nothing is thrown. */
export function thrownBy(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}
