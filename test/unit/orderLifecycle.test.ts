import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CoffeeWorld, type Action } from './coffeeWorld';

// Property-based tests of one order's life across the orders, barista and counter services: their
// real deciders, the guards their handlers commit with, and the events between them delivered in
// generated orders, with duplicates.

const action = fc.constantFrom<Action>('place', 'cancel', 'start', 'finish', 'serve');
/** Staff and customer acting at once (each on what it read before any of them committed), then the events of the round delivered. */
const round = fc.record({ actions: fc.array(action, { minLength: 1, maxLength: 3 }), picks: fc.array(fc.nat({ max: 40 }), { maxLength: 8 }) });

describe('an order’s life (property-based)', () => {
  it('ends in exactly one terminal state, cancelled or served, and no step happens twice', () => {
    fc.assert(
      fc.property(fc.array(round, { maxLength: 8 }), (rounds) => {
        // arrange: the order is placed; its events are still on their way
        const world = new CoffeeWorld();
        world.act('place');

        // act: rounds of concurrent commands, each round's events delivered in a generated order
        for (const { actions, picks } of rounds) {
          world.concurrently(actions);
          world.flush(picks);
          expect(world.outcome.cancelled && world.outcome.served, world.trace.join('\n')).toBe(false);
        }
        // … then the staff finish what their service still lets them do, once it knows of the order
        world.flush();
        for (const step of ['start', 'finish', 'serve'] as const) {
          world.act(step);
          world.flush();
        }

        // assert
        const { cancelled, served } = world.outcome;
        expect(cancelled !== served, world.trace.join('\n')).toBe(true);
        expect(world.order?.version).toBeLessThanOrEqual(2);
        expect(world.ticket?.version ?? 0).toBeLessThanOrEqual(2);
        expect(world.served?.version ?? 0).toBeLessThanOrEqual(1);
      }),
      { numRuns: 1_000 },
    );
  });

  it('given a cancel racing the barista’s start, exactly one of them commits: the cancel here, so finish and serve are refused', () => {
    // arrange
    const world = new CoffeeWorld();
    world.act('place');
    world.flush();

    // act: the customer cancels while the barista starts; then the events arrive
    world.concurrently(['cancel', 'start']);
    world.flush();
    const finished = world.act('finish');
    world.flush();
    const served = world.act('serve');

    // assert
    expect([finished, served]).toEqual([false, false]);
    expect(world.outcome).toEqual({ cancelled: true, served: false });
  });

  // Found by a variant of the property above in which deliveries may be held back across staff
  // actions (failed after 775 runs before the fix; this is its shrunk counterexample): the barista and
  // the counter refused a cancelled order only once they had *heard* of the cancel. Now a cancel and a
  // start each check the other service's own item in their transaction (arbiterConfig.ts).
  it('given the cancel’s deliveries held back, the barista’s start is refused: an order ends cancelled, never also served', () => {
    // arrange: placed, and the barista knows it
    const world = new CoffeeWorld();
    world.act('place');
    world.flush();

    // act: the customer cancels; the barista, not told yet, tries to start, finish, and the counter to serve
    const cancelled = world.act('cancel');
    const steps = (['start', 'finish', 'serve'] as const).map((step) => world.act(step));

    // assert: exactly one terminal state
    expect([cancelled, ...steps]).toEqual([true, false, false, false]);
    expect(world.outcome).toEqual({ cancelled: true, served: false });
  });
});
