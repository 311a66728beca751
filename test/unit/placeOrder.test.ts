import { describe, expect, it } from 'vitest';
import { ORDER_PLACED, OrderPlacedSchema, placeOrder, PlaceOrderSchema, type PlaceOrder } from '../../functions/coffee/orders/placeOrder';

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
});
