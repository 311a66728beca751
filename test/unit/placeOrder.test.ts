import { describe, expect, it } from 'vitest';
import { ORDER_PLACED, OrderPlacedSchema, placeOrder, placeOrderAgain, PlaceOrderSchema, type Customer, type PlaceOrder } from '../../functions/coffee/orders/placeOrder';

const NOW = new Date('2025-03-01T08:30:00.000Z');

/** The command as the handler parses it (defaults applied). */
const command = (input: unknown): PlaceOrder => PlaceOrderSchema.parse(input);

/** Every problem the schema finds, as `path: message`, the way the handler reports them. */
function problemsOf(input: unknown): string[] {
  const result = PlaceOrderSchema.safeParse(input);
  if (result.success) throw new Error('expected the command to be rejected');
  return result.error.issues.map((i) => `${i.path.join('.') || '(command)'}: ${i.message}`);
}

describe('placeOrder', () => {
  describe('given a new order', () => {
    it('prices each line by product, size and quantity and totals the order', () => {
      // arrange
      const lattesEspressoAndMochas = command({
        orderId: 'o-100',
        lines: [
          { product: 'latte', size: 'medium', quantity: 2 },
          { product: 'espresso', size: 'small', quantity: 1 },
          { product: 'mocha', size: 'large', quantity: 3 },
        ],
      });

      // act
      const { state } = placeOrder(lattesEspressoAndMochas, NOW);

      // assert
      expect(state.lines.map((line) => line.priceCents)).toEqual([760, 200, 1575]);
      expect(state.totalCents).toBe(760 + 200 + 1575);
      expect(state.status).toBe('placed');
      expect(state.placedAt).toBe('2025-03-01T08:30:00.000Z');
    });

    it('rounds the price of one cup to whole cents before multiplying by the quantity', () => {
      // arrange
      const twoLargeFlatWhites = command({ orderId: 'o-101', lines: [{ product: 'flat-white', size: 'large', quantity: 2 }] });

      // act
      const { state } = placeOrder(twoLargeFlatWhites, NOW);

      // assert
      expect(state.lines[0]!.priceCents).toBe(2 * 488); // 390 × 1.25 = 487.5 → 488 a cup
      expect(state.totalCents).toBe(976);
    });

    it('defaults a line to one medium cup', () => {
      // arrange
      const oneAmericano = command({ orderId: 'o-102', lines: [{ product: 'americano' }] });

      // act
      const { state } = placeOrder(oneAmericano, NOW);

      // assert
      expect(state.lines).toEqual([{ product: 'americano', size: 'medium', quantity: 1, priceCents: 300 }]);
    });

    it('raises one coffee.order.placed event with the order’s data', () => {
      // arrange
      const placeOrderCommand = command({
        orderId: 'o-103',
        lines: [
          { product: 'cappuccino', size: 'small', quantity: 1 },
          { product: 'latte', size: 'large', quantity: 1 },
        ],
      });

      // act
      const { events } = placeOrder(placeOrderCommand, NOW);

      // assert
      expect(events).toEqual([
        {
          type: ORDER_PLACED,
          data: {
            orderId: 'o-103',
            lines: [
              { product: 'cappuccino', size: 'small', quantity: 1, priceCents: 296 },
              { product: 'latte', size: 'large', quantity: 1, priceCents: 475 },
            ],
            totalCents: 771,
            placedAt: '2025-03-01T08:30:00.000Z',
          },
        },
      ]);
      expect(OrderPlacedSchema.safeParse(events[0]!.data).success).toBe(true);
    });

    it('is pure: the same command at the same time gives the same decision', () => {
      // arrange
      const input = command({ orderId: 'o-104', lines: [{ product: 'mocha', quantity: 2 }] });

      // act
      const first = placeOrder(input, NOW);
      const second = placeOrder(input, NOW);

      // assert
      expect(second).toEqual(first);
    });
  });
});

describe('PlaceOrderSchema', () => {
  it('accepts a well-formed command', () => {
    // act
    const result = PlaceOrderSchema.safeParse({ orderId: 'o_2025-03-01_7', lines: [{ product: 'latte', size: 'large', quantity: 10 }] });

    // assert
    expect(result.success).toBe(true);
  });

  it.each([
    ['an order without lines', { orderId: 'o-1', lines: [] }, 'lines: an order needs at least one line'],
    ['a product not on the menu', { orderId: 'o-1', lines: [{ product: 'tea' }] }, 'lines.0.product: '],
    ['quantity 0', { orderId: 'o-1', lines: [{ product: 'latte', quantity: 0 }] }, 'lines.0.quantity: '],
    ['a fractional quantity', { orderId: 'o-1', lines: [{ product: 'latte', quantity: 1.5 }] }, 'lines.0.quantity: '],
    ['an unknown size', { orderId: 'o-1', lines: [{ product: 'latte', size: 'venti' }] }, 'lines.0.size: '],
    ['an unknown field', { orderId: 'o-1', lines: [{ product: 'latte' }], discount: 100 }, '(command): Unrecognized key: "discount"'],
    ['an order id with spaces', { orderId: 'my order', lines: [{ product: 'latte' }] }, 'orderId: must be 3–64 letters, digits, "-" or "_"'],
    ['a missing order id', { lines: [{ product: 'latte' }] }, 'orderId: '],
  ])('rejects %s, naming the field', (_, input, problem) => {
    // act
    const problems = problemsOf(input);

    // assert
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(problem);
  });

  it('names the menu when a product is unknown', () => {
    // act
    const [problem] = problemsOf({ orderId: 'o-1', lines: [{ product: 'tea' }] });

    // assert
    expect(problem).toContain('latte');
    expect(problem).toContain('flat-white');
  });

  it('lists every problem of a command at once', () => {
    // act
    const problems = problemsOf({ orderId: 'x', lines: [{ product: 'tea', quantity: 0 }], table: 4 });

    // assert
    expect(problems.map((p) => p.split(':')[0])).toEqual(expect.arrayContaining(['orderId', 'lines.0.product', 'lines.0.quantity', '(command)']));
    expect(problems).toHaveLength(4);
  });
});

describe('placeOrder with a customer', () => {
  it('carries the already sealed customer into state and event, sealed for the customer as data subject', async () => {
    // arrange: what the handler hands over after sealing (values are opaque sealed strings)
    const { placeOrder } = await import('../../functions/coffee/orders/placeOrder');
    const customer = { customerId: 'c-42', name: 'pd1:YzQy:1:aXY:dGFn:Y3Q', email: 'pd1:YzQy:1:aXY:dGFn:ZW0' };

    // act
    const { state, events } = placeOrder({ orderId: 'o-77', lines: [{ product: 'latte', size: 'medium', quantity: 1 }] }, new Date('2025-03-01T08:30:00Z'), customer);

    // assert
    expect(state.customer).toEqual(customer);
    expect(events[0]).toMatchObject({ dataSubject: 'c-42', data: { customer } });
  });

  it('rejects a customer with an unknown field or an empty name', async () => {
    const { PlaceOrderSchema } = await import('../../functions/coffee/orders/placeOrder');
    const base = { orderId: 'o-78', lines: [{ product: 'latte' }] };
    expect(PlaceOrderSchema.safeParse({ ...base, customer: { customerId: 'c-1', name: 'Ada', phone: '1' } }).success).toBe(false);
    expect(PlaceOrderSchema.safeParse({ ...base, customer: { customerId: 'c-1', name: ' ' } }).success).toBe(false);
    expect(PlaceOrderSchema.safeParse({ ...base, customer: { customerId: 'c-1', name: 'Ada', email: 'ada@example.com' } }).success).toBe(true);
  });

  it('rejects a customer name that would display as another or cannot be stored, saying why', async () => {
    const { PlaceOrderSchema } = await import('../../functions/coffee/orders/placeOrder');
    const base = { orderId: 'o-79', lines: [{ product: 'latte' }] };
    const why = (name: string) => PlaceOrderSchema.safeParse({ ...base, customer: { customerId: 'c-1', name } }).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(why('Ada\u202enimda')).toEqual([expect.stringMatching(/^customer\.name: .*bidirectional control U\+202E/)]);
    expect(why('Ada\ud800')).toEqual([expect.stringMatching(/^customer\.name: .*lone surrogate/)]);
    expect(why('Ada\u0007')).toEqual([expect.stringMatching(/^customer\.name: .*control character U\+0007/)]);
  });
});

describe('placeOrderAgain (the order id is taken)', () => {
  const ada = { customerId: 'c-42', name: 'Ada Lovelace', email: 'ada@example.com' };
  const first = command({ orderId: 'o-200', lines: [{ product: 'mocha', size: 'large', quantity: 2 }, { product: 'espresso' }], customer: ada });
  const existing = placeOrder(first, NOW, { customerId: 'c-42', name: 'pd1:sealed-name', email: 'pd1:sealed-email' }).state;
  /** The stored customer as the handler opens it. */
  const opened: Customer = { ...ada };

  it('given the same request (defaults written out or not), then it is a retry answered with the first total', () => {
    // arrange
    const again = command({ orderId: 'o-200', lines: [{ product: 'mocha', size: 'large', quantity: 2 }, { product: 'espresso', size: 'medium', quantity: 1 }], customer: ada });

    // act + assert
    expect(placeOrderAgain(first, existing, opened)).toEqual({ kind: 'retry', totalCents: 1300 });
    expect(placeOrderAgain(again, existing, opened)).toEqual({ kind: 'retry', totalCents: 1300 });
  });

  it.each([
    ['other quantities', { lines: [{ product: 'mocha', size: 'large', quantity: 3 }, { product: 'espresso' }], customer: ada }],
    ['a missing line', { lines: [{ product: 'mocha', size: 'large', quantity: 2 }], customer: ada }],
    ['the lines in another order', { lines: [{ product: 'espresso' }, { product: 'mocha', size: 'large', quantity: 2 }], customer: ada }],
    ['no customer', { lines: [{ product: 'mocha', size: 'large', quantity: 2 }, { product: 'espresso' }] }],
    ['another customer', { lines: [{ product: 'mocha', size: 'large', quantity: 2 }, { product: 'espresso' }], customer: { ...ada, customerId: 'c-43' } }],
    ['another name', { lines: [{ product: 'mocha', size: 'large', quantity: 2 }, { product: 'espresso' }], customer: { ...ada, name: 'Ada King' } }],
    ['no email', { lines: [{ product: 'mocha', size: 'large', quantity: 2 }, { product: 'espresso' }], customer: { customerId: 'c-42', name: 'Ada Lovelace' } }],
  ])('given %s under the same id, then it is refused as a reused id, without personal data in the message', (_, other) => {
    // act
    const answer = placeOrderAgain(command({ orderId: 'o-200', ...other }), existing, opened);

    // assert
    expect(answer).toEqual({ kind: 'rejected', error: 'OrderIdReused', message: expect.stringMatching(/^order id o-200 was already used for another request/) });
    expect(answer.kind === 'rejected' && answer.message).not.toMatch(/Ada|example/);
  });

  it('given an erased customer (name and email open as null), then the rest is still compared: same id and lines are a retry', () => {
    const erased: Customer = { customerId: 'c-42', name: null, email: null };
    expect(placeOrderAgain(first, existing, erased)).toEqual({ kind: 'retry', totalCents: 1300 });
    expect(placeOrderAgain(command({ orderId: 'o-200', lines: [{ product: 'latte' }], customer: ada }), existing, erased)).toMatchObject({ kind: 'rejected' });
  });

  it('given a walk-in order, then a retry without a customer is the same request', () => {
    const walkIn = command({ orderId: 'o-201', lines: [{ product: 'latte' }] });
    expect(placeOrderAgain(walkIn, placeOrder(walkIn, NOW).state, undefined)).toEqual({ kind: 'retry', totalCents: 380 });
  });
});
