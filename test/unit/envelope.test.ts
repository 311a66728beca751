import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  buildEvent,
  childTraceparent,
  EventEnvelopeSchema,
  InvalidEnvelopeError,
  newEventId,
  newTraceparent,
  parseEvent,
  sequenceNumber,
  TRACEPARENT,
  UUID_V7,
  type BuildEventInput,
} from '../../functions/toolkit/envelope';
import { COMMIT_TIME, orderPlaced, thrownBy } from './fixtures';

const TRACE = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

const validInput = (overrides: Partial<BuildEventInput<unknown>> = {}): BuildEventInput<unknown> => ({
  id: newEventId(),
  source: 'coffee.orders',
  type: 'coffee.order.placed',
  subject: 'o-42',
  sequence: 3,
  time: COMMIT_TIME,
  traceparent: TRACE,
  data: { orderId: 'o-42', totalCents: 380 },
  ...overrides,
});


describe('buildEvent', () => {
  it('builds a CloudEvents 1.0 envelope with the toolkit extensions', () => {
    // arrange
    const input = validInput();

    // act
    const event = buildEvent(input);

    // assert
    expect(event).toEqual({
      specversion: '1.0',
      id: input.id,
      source: 'coffee.orders',
      type: 'coffee.order.placed',
      subject: 'o-42',
      time: '2025-03-01T08:30:00.250Z',
      datacontenttype: 'application/json',
      dataversion: 1,
      partitionkey: 'o-42',
      sequence: '3',
      traceparent: TRACE,
      data: { orderId: 'o-42', totalCents: 380 },
    });
    expect(EventEnvelopeSchema.safeParse(event).success).toBe(true);
    expect(sequenceNumber(event)).toBe(3);
  });

  it('keeps an explicit partition key, data version and data schema', () => {
    // arrange
    const input = validInput({ partitionkey: 'store-7', dataversion: 2, dataschema: 'https://schemas.example.com/coffee.order.placed/2' });

    // act
    const event = buildEvent(input);

    // assert
    expect(event.partitionkey).toBe('store-7');
    expect(event.subject).toBe('o-42');
    expect(event.dataversion).toBe(2);
    expect(event.dataschema).toBe('https://schemas.example.com/coffee.order.placed/2');
  });

  it('returns the caller’s data as given', () => {
    // arrange
    const data = { orderId: 'o-42', lines: [{ product: 'latte', quantity: 2 }] };

    // act
    const event = buildEvent(validInput({ data }));

    // assert
    expect(event.data).toBe(data);
  });

  it.each([
    ['an id that is not a UUID', { id: 'order-42-placed' }, 'id must be a UUID v7'],
    ['a UUID v4 id', { id: randomUUID() }, 'id must be a UUID v7'],
    ['a type that is not a dotted lower-case name', { type: 'OrderPlaced' }, 'type must be a dotted, lower-case event name'],
    ['a fractional sequence', { sequence: 1.5 }, 'sequence must be a positive decimal integer'],
    ['sequence 0', { sequence: 0 }, 'sequence must be a positive decimal integer'],
    ['an unsafe integer sequence', { sequence: 2 ** 53 }, 'sequence must be a positive decimal integer'],
    ['a malformed traceparent', { traceparent: '00-abc-def-01' }, 'traceparent must be a W3C traceparent'],
    ['an all-zero trace id', { traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' }, 'traceparent must be a W3C traceparent'],
    ['an empty subject', { subject: '' }, 'subject'],
  ] as const)('rejects %s with InvalidEnvelopeError', (_, overrides, problem) => {
    // arrange
    const input = validInput(overrides);

    // act
    const error = thrownBy(() => buildEvent(input));

    // assert
    expect(error).toBeInstanceOf(InvalidEnvelopeError);
    expect((error as InvalidEnvelopeError).message).toContain(problem);
  });

  it('lists every problem of the input in one error', () => {
    // arrange
    const input = validInput({ id: 'not-a-uuid', type: 'Coffee Order Placed', sequence: 2.5, traceparent: 'trace-me' });

    // act
    const error = thrownBy(() => buildEvent(input));

    // assert
    expect(error).toBeInstanceOf(InvalidEnvelopeError);
    const { problems, eventId, message, name } = error as InvalidEnvelopeError;
    expect(name).toBe('InvalidEnvelopeError');
    expect(eventId).toBe('not-a-uuid');
    expect(problems).toEqual([
      'id must be a UUID v7',
      'type must be a dotted, lower-case event name like coffee.order.placed',
      'sequence must be a positive decimal integer',
      'traceparent must be a W3C traceparent',
    ]);
    for (const problem of problems) expect(message).toContain(problem);
  });
});

describe('parseEvent', () => {
  it('accepts the JSON string of a valid envelope', () => {
    // arrange
    const event = orderPlaced();

    // act
    const parsed = parseEvent(JSON.stringify(event));

    // assert
    expect(parsed).toEqual(event);
  });

  it('accepts a valid envelope object', () => {
    // arrange
    const event = orderPlaced();

    // act
    const parsed = parseEvent({ ...event });

    // assert
    expect(parsed).toEqual(event);
  });

  it('fills in the default data content type', () => {
    // arrange
    const { datacontenttype: _, ...withoutContentType } = orderPlaced();

    // act
    const parsed = parseEvent(withoutContentType);

    // assert
    expect(parsed.datacontenttype).toBe('application/json');
  });

  it('rejects a body that is not JSON without echoing the body', () => {
    // arrange
    const body = '{"data": {"cardNumber": "4111111111111111"';

    // act
    const error = thrownBy(() => parseEvent(body));

    // assert
    expect(error).toBeInstanceOf(InvalidEnvelopeError);
    expect((error as InvalidEnvelopeError).problems).toEqual(['body is not valid JSON']);
    expect((error as InvalidEnvelopeError).message).not.toContain('4111111111111111');
    expect((error as InvalidEnvelopeError).cause).toBeInstanceOf(SyntaxError);
  });

  it('names each invalid field but never includes payload values', () => {
    // arrange
    const secret = 'card 4111-1111-1111-1111, cvv 737';
    const event = { ...orderPlaced(), sequence: '0', traceparent: 'none', data: { cardNumber: secret } };

    // act
    const error = thrownBy(() => parseEvent(JSON.stringify(event)));

    // assert
    expect(error).toBeInstanceOf(InvalidEnvelopeError);
    const { message, problems, eventId } = error as InvalidEnvelopeError;
    expect(problems).toEqual(['sequence must be a positive decimal integer', 'traceparent must be a W3C traceparent']);
    expect(eventId).toBe(event.id);
    expect(message).toContain(event.id);
    expect(message).not.toContain(secret);
    expect(message).not.toContain('4111');
  });

  it('rejects missing fields and unknown attributes by name', () => {
    // arrange
    const { source: _, ...withoutSource } = orderPlaced();
    const input = { ...withoutSource, customerEmail: 'alice@example.com' };

    // act
    const error = thrownBy(() => parseEvent(input));

    // assert
    expect(error).toBeInstanceOf(InvalidEnvelopeError);
    const { message, problems } = error as InvalidEnvelopeError;
    expect(problems.some((p) => p.startsWith('source '))).toBe(true);
    expect(message).toContain('customerEmail');
    expect(message).not.toContain('alice@example.com');
  });

  it.each([
    ['a JSON array', '[1, 2, 3]'],
    ['a JSON string', '"hello"'],
    ['null', 'null'],
  ])('rejects %s as an envelope', (_, body) => {
    // act
    const error = thrownBy(() => parseEvent(body));

    // assert
    expect(error).toBeInstanceOf(InvalidEnvelopeError);
    expect((error as InvalidEnvelopeError).problems[0]).toMatch(/^\(root\) /);
  });
});

describe('newEventId', () => {
  it('returns UUID v7 strings', () => {
    // act
    const ids = Array.from({ length: 50 }, () => newEventId());

    // assert
    for (const id of ids) expect(id).toMatch(UUID_V7);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('returns ids that sort in creation order, also within one millisecond', () => {
    // arrange
    const created = Array.from({ length: 1000 }, () => newEventId());

    // act
    const sorted = [...created].sort();

    // assert
    expect(sorted).toEqual(created);
  });
});

describe('traceparent', () => {
  it('starts a new trace with a valid W3C traceparent', () => {
    // act
    const first = newTraceparent();
    const second = newTraceparent();

    // assert
    expect(first).toMatch(TRACEPARENT);
    expect(second).toMatch(TRACEPARENT);
    expect(first.split('-')[1]).not.toBe(second.split('-')[1]);
  });

  it('keeps the trace id and flags and changes the parent id for the next hop', () => {
    // arrange
    const parent = newTraceparent();
    const [version, traceId, parentId, flags] = parent.split('-');

    // act
    const child = childTraceparent(parent);

    // assert
    expect(child).toMatch(TRACEPARENT);
    const [childVersion, childTraceId, childParentId, childFlags] = child.split('-');
    expect(childVersion).toBe(version);
    expect(childTraceId).toBe(traceId);
    expect(childFlags).toBe(flags);
    expect(childParentId).not.toBe(parentId);
  });
});
