import { IdempotencyValidationError } from '@aws-lambda-powertools/idempotency';
import { describe, expect, it } from 'vitest';
import { OrderPlacedSchema } from '../../functions/coffee/orders/placeOrder';
import { decideFailure, decodeMessage, PoisonMessageError } from '../../functions/toolkit/consumer';
import { InvalidSnapshotError } from '../../functions/toolkit/eventsource';
import { MessageIdReusedError } from '../../functions/toolkit/inbox';
import { CommitTooLargeError, TransactionConflictError } from '../../functions/toolkit/outbox';
import { SubjectErasedError } from '../../functions/toolkit/privacy/errors';
import { orderPlaced, thrownBy } from './fixtures';

const schemas = { 'coffee.order.placed': OrderPlacedSchema };
const policy = { maxAttempts: 4, backoffBaseSeconds: 2, backoffMaxSeconds: 10 };

/** The body EventBridge puts on an SQS target's queue: the envelope is its `detail`. */
const eventBridgeBody = (detail: unknown) =>
  JSON.stringify({ version: '0', id: 'eb-1', 'detail-type': 'coffee.order.placed', source: 'coffee.orders', account: '1', time: '2025-03-01T08:30:00Z', region: 'us-east-1', resources: [], detail });

describe('decodeMessage', () => {
  it('reads an envelope from a FIFO body and from an EventBridge event, with data parsed', () => {
    // arrange
    const event = orderPlaced();

    // act
    const fromFifo = decodeMessage(JSON.stringify(event), schemas);
    const fromBus = decodeMessage(eventBridgeBody(event), schemas);

    // assert
    expect(fromFifo).toEqual(event);
    expect(fromBus).toEqual(event);
    expect(fromFifo.data.totalCents).toBe(380);
  });

  it.each([
    ['bad JSON', () => '{"specversion":', /not valid JSON/],
    ['not an envelope', () => JSON.stringify({ hello: 'world' }), /Invalid event envelope/],
    ['an unknown type', () => JSON.stringify({ ...orderPlaced(), type: 'coffee.order.teleported' }), /coffee\.order\.teleported is not handled by this consumer \(handles: coffee\.order\.placed\)/],
    ['an unknown data version', () => JSON.stringify({ ...orderPlaced(), dataversion: 7 }), /dataversion 7, this consumer reads version 1/],
    ['data that breaks its schema', () => JSON.stringify({ ...orderPlaced(), data: { orderId: 'o-1' } }), /does not match its schema: data\.lines/],
    // A relay may put only its own service's source on the bus: an envelope claiming another is forged.
    ['an EventBridge event whose source is not the envelope’s', () => JSON.stringify({ ...JSON.parse(eventBridgeBody(orderPlaced())), source: 'fraud.watch' }), /put on the bus with source fraud\.watch, but the event says coffee\.orders/],
  ])('rejects %s as poison, saying what is wrong', (_name, body, message) => {
    // act
    const error = thrownBy(() => decodeMessage(body(), schemas));

    // assert
    expect(error).toBeInstanceOf(PoisonMessageError);
    expect((error as Error).message).toMatch(message);
  });

  it.each([
    ['a FIFO body (an ordered queue written to by someone else than its relay)', () => JSON.stringify({ ...orderPlaced(), source: 'fraud.watch' })],
    ['an EventBridge event (a rule widened, or an event put straight on the queue)', () => eventBridgeBody({ ...orderPlaced(), source: 'fraud.watch' }).replace('"source":"coffee.orders"', '"source":"fraud.watch"')],
  ])('rejects an event from a source the consumer does not subscribe to, in %s', (_name, body) => {
    // act
    const error = thrownBy(() => decodeMessage(body(), schemas, { sources: ['coffee.orders', 'coffee.barista'] }));

    // assert
    expect(error).toBeInstanceOf(PoisonMessageError);
    expect((error as Error).message).toMatch(/from source fraud\.watch, which this consumer does not subscribe to \(it takes coffee\.orders, coffee\.barista\)/);
  });

  it('takes an event from a subscribed source, and from any source when the consumer names none', () => {
    expect(decodeMessage(JSON.stringify(orderPlaced()), schemas, { sources: ['coffee.barista', 'coffee.orders'] }).source).toBe('coffee.orders');
    expect(decodeMessage(JSON.stringify({ ...orderPlaced(), source: 'fraud.watch' }), schemas).source).toBe('fraud.watch');
  });

  it('reads another data version when the consumer declares it', () => {
    const event = { ...orderPlaced(), dataversion: 2 };
    expect(decodeMessage(JSON.stringify(event), { 'coffee.order.placed': { version: 2, schema: OrderPlacedSchema } }).dataversion).toBe(2);
  });
});

describe('decideFailure', () => {
  it('dead-letters poison at once, also a reused id with another payload', () => {
    expect(decideFailure(new PoisonMessageError('bad'), 1, policy)).toEqual({ action: 'dead-letter', reason: 'poison' });
    expect(decideFailure(new IdempotencyValidationError('payload differs'), 1, policy)).toEqual({ action: 'dead-letter', reason: 'poison' });
    // an erased subject's data never opens again: retrying would go on forever
    expect(decideFailure(Object.assign(new Error('erased'), { name: 'SubjectErasedError' }), 1, policy)).toEqual({ action: 'dead-letter', reason: 'poison' });
  });

  it('dead-letters every permanent failure at once, with its reason: a retry would fail the same way', () => {
    for (const error of [new MessageIdReusedError('m-1'), new CommitTooLargeError(['too many items']), new InvalidSnapshotError('a-1', ['too big']), new SubjectErasedError('c-1')]) {
      expect(decideFailure(error, 1, policy), error.name).toEqual({ action: 'dead-letter', reason: 'poison' });
    }
    // contention is transient
    expect(decideFailure(new TransactionConflictError(5), 1, policy, () => 1)).toEqual({ action: 'retry', visibilityTimeoutSeconds: 2 });
  });

  it('retries a transient failure with exponential, capped backoff, then dead-letters on the last attempt', () => {
    // act: random = 1 gives the ceiling of each full-jitter window
    const delays = [1, 2, 3].map((attempt) => decideFailure(new Error('throttled'), attempt, policy, () => 1));

    // assert: 2 s, 4 s, 8 s (cap 10 s), then the 4th attempt is the last
    expect(delays).toEqual([2, 4, 8].map((visibilityTimeoutSeconds) => ({ action: 'retry', visibilityTimeoutSeconds })));
    expect(decideFailure(new Error('throttled'), 4, policy)).toEqual({ action: 'dead-letter', reason: 'attempts-exhausted' });
    expect(decideFailure(new Error('throttled'), 3, { ...policy, backoffBaseSeconds: 8 }, () => 1)).toEqual({ action: 'retry', visibilityTimeoutSeconds: 10 });
  });

  it('spreads retries with jitter: a lower random gives a shorter delay', () => {
    expect(decideFailure(new Error('x'), 3, policy, () => 0.25)).toEqual({ action: 'retry', visibilityTimeoutSeconds: 2 });
  });
});
