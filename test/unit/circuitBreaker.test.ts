import { ListEventSourceMappingsCommand, ResourceInUseException, UpdateEventSourceMappingCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { describe, expect, it } from 'vitest';
import {
  admit,
  Circuit,
  CircuitBreakerConfigSchema,
  CircuitOpenError,
  CLOSED,
  decideFailure,
  EventSourceMappingSwitch,
  halfOpen,
  halfOpenCircuits,
  planRecovery,
  PoisonMessageError,
  recordFailure,
  recordSuccess,
  shouldProbe,
  type CircuitPolicy,
  type CircuitState,
  type CircuitStore,
  type ConsumerSwitch,
  type VersionedCircuitState,
} from '../../functions/toolkit/consumer';
import { ConfigError, parseConfig } from '../../functions/toolkit/config/parseConfig';
import { thrownBy } from './fixtures';

const T0 = Date.parse('2025-03-01T08:30:00.000Z');
const seconds = (n: number) => n * 1000;
const policy: CircuitPolicy = { failureThreshold: 3, windowMs: seconds(60), coolDownMs: seconds(30) };

/** Applies failures at the given times, from `state`. */
const failuresAt = (times: number[], state: CircuitState = CLOSED): CircuitState => times.reduce((s, at) => recordFailure(s, at, policy), state);

describe('circuit breaker transitions (pure)', () => {
  describe('closed', () => {
    it('opens on the K-th failure within the window, until the cool-down is over', () => {
      // given two failures
      const given = failuresAt([T0, T0 + seconds(10)]);

      // when a third within the minute
      const state = recordFailure(given, T0 + seconds(20), policy);

      // then open for 30 s from then
      expect(given).toEqual({ status: 'closed', failures: [T0, T0 + seconds(10)] });
      expect(state).toEqual({ status: 'open', openedAt: T0 + seconds(20), openUntil: T0 + seconds(50) });
    });

    it('forgets failures older than the window (sliding)', () => {
      // given two failures, the first more than a minute before the next
      const given = failuresAt([T0, T0 + seconds(59)]);

      // when a third 61 s after the first
      const state = recordFailure(given, T0 + seconds(61), policy);

      // then only the last two count: still closed
      expect(state).toEqual({ status: 'closed', failures: [T0 + seconds(59), T0 + seconds(61)] });
    });

    it('keeps its failures after a success: K failures in the window open it, successes in between or not', () => {
      const given = failuresAt([T0, T0 + seconds(1)]);

      const afterSuccess = recordSuccess(given);
      const state = recordFailure(afterSuccess, T0 + seconds(2), policy);

      expect(afterSuccess).toBe(given);
      expect(state.status).toBe('open');
    });

    it('opens on the first failure with a threshold of 1', () => {
      expect(recordFailure(CLOSED, T0, { ...policy, failureThreshold: 1 })).toEqual({ status: 'open', openedAt: T0, openUntil: T0 + seconds(30) });
    });

    it('lets calls through', () => {
      expect(admit(failuresAt([T0, T0]), T0)).toEqual({ verdict: 'call' });
    });
  });

  describe('open', () => {
    const open = failuresAt([T0, T0, T0]);

    it('refuses calls until the cool-down is over, then is due a probe', () => {
      expect(admit(open, T0 + seconds(29))).toEqual({ verdict: 'reject', retryAt: T0 + seconds(30) });
      expect(shouldProbe(open, T0 + seconds(29))).toBe(false);
      expect(admit(open, T0 + seconds(30))).toEqual({ verdict: 'probe' });
      expect(shouldProbe(open, T0 + seconds(30))).toBe(true);
    });

    it('is not changed by late failures or successes of calls that started before it opened', () => {
      expect(recordFailure(open, T0 + seconds(5), policy)).toBe(open);
      expect(recordSuccess(open)).toBe(open);
    });

    it('half-opens only once the cool-down is over', () => {
      expect(halfOpen(open, T0 + seconds(10))).toBe(open);
      expect(halfOpen(open, T0 + seconds(31))).toEqual({ status: 'half-open', since: T0 + seconds(31) });
    });
  });

  describe('half-open', () => {
    const given: CircuitState = { status: 'half-open', since: T0 };

    it('lets calls through (probes)', () => {
      expect(admit(given, T0 + 1)).toEqual({ verdict: 'call' });
    });

    it('closes on a success, with no failures remembered', () => {
      expect(recordSuccess(given)).toEqual(CLOSED);
    });

    it('opens again on a failure, for a new cool-down', () => {
      expect(recordFailure(given, T0 + seconds(1), policy)).toEqual({ status: 'open', openedAt: T0 + seconds(1), openUntil: T0 + seconds(31) });
    });
  });

  describe('planRecovery (the closer)', () => {
    const openAt = (at: number): CircuitState => ({ status: 'open', openedAt: at, openUntil: at + seconds(30) });

    it('half-opens the circuits whose cool-down is over and resumes the consumer', () => {
      const plan = planRecovery(
        [
          { name: 'payments', state: openAt(T0) },
          { name: 'email', state: CLOSED },
          { name: 'stock', state: { status: 'half-open', since: T0 } },
        ],
        T0 + seconds(30),
      );

      expect(plan).toEqual({ halfOpen: ['payments'], resume: true });
    });

    it('does nothing while another circuit of the consumer still cools down', () => {
      expect(planRecovery([{ name: 'payments', state: openAt(T0) }, { name: 'email', state: openAt(T0 + seconds(20)) }], T0 + seconds(40))).toEqual({ halfOpen: [], resume: false });
    });

    it('does nothing when no circuit is due', () => {
      expect(planRecovery([{ name: 'payments', state: openAt(T0) }], T0 + seconds(29))).toEqual({ halfOpen: [], resume: false });
      expect(planRecovery([], T0)).toEqual({ halfOpen: [], resume: false });
    });
  });
});

describe('decideFailure with an open circuit', () => {
  const failurePolicy = { maxAttempts: 5, backoffBaseSeconds: 2, backoffMaxSeconds: 10 };

  it('retries the message once the circuit may be probed, not after the backoff', () => {
    const error = new CircuitOpenError('payments', T0 + seconds(45), T0 + 300);

    expect(error.retryAfterSeconds).toBe(45);
    expect(decideFailure(error, 2, failurePolicy, () => 0)).toEqual({ action: 'retry', visibilityTimeoutSeconds: 45 });
  });

  it('waits at most 12 hours (the longest visibility timeout), and still dead-letters on the last attempt', () => {
    expect(decideFailure(new CircuitOpenError('payments', T0 + seconds(86_400), T0), 1, failurePolicy)).toEqual({ action: 'retry', visibilityTimeoutSeconds: 43_200 });
    expect(decideFailure(new CircuitOpenError('payments', T0 + seconds(45), T0), 5, failurePolicy)).toEqual({ action: 'dead-letter', reason: 'attempts-exhausted' });
  });
});

/**
 * An in-memory store with the DynamoDB adapter's contract (a save names the version it read). Every
 * call yields first, so concurrent calls interleave as they do against a real table.
 */
class InMemoryCircuitStore implements CircuitStore {
  readonly items = new Map<string, VersionedCircuitState>();
  readonly registered = new Set<string>();
  conflicts = 0;

  async load(name: string): Promise<VersionedCircuitState> {
    await Promise.resolve();
    return this.items.get(name) ?? { state: CLOSED, version: 0 };
  }

  async save(name: string, state: CircuitState, expectedVersion: number): Promise<boolean> {
    await Promise.resolve();
    if (state.status === 'open') this.registered.add(name);
    if ((this.items.get(name)?.version ?? 0) !== expectedVersion) {
      this.conflicts++;
      return false;
    }
    this.items.set(name, { state, version: expectedVersion + 1 });
    return true;
  }

  async names(): Promise<string[]> {
    return [...this.registered];
  }
}

/** Counts stops and resumes; can be told to fail its next stops. */
class FakeSwitch implements ConsumerSwitch {
  stops = 0;
  resumes = 0;
  failingStops = 0;

  async stop(): Promise<void> {
    if (this.failingStops > 0) {
      this.failingStops--;
      throw new Error('ResourceInUseException');
    }
    this.stops++;
  }

  async resume(): Promise<void> {
    this.resumes++;
  }
}

class Clock {
  constructor(public now = T0) {}
  advance(ms: number): void {
    this.now += ms;
  }
  readonly read = () => this.now;
}

const downstreamDown = () => Promise.reject(new Error('503 from payments'));
const downstreamUp = () => Promise.resolve('charged');

describe('Circuit (the breaker around calls, with its state in a store)', () => {
  function setup() {
    const store = new InMemoryCircuitStore();
    const consumer = new FakeSwitch();
    const clock = new Clock();
    const breaker = (name = 'payments') => new Circuit(name, { store, consumer, policy, clock: clock.read });
    return { store, consumer, clock, breaker };
  }

  /** Runs `call` and returns what it threw. */
  async function rejectionOf(call: Promise<unknown>): Promise<unknown> {
    return call.then(
      () => expect.fail('expected the call to throw'),
      (error: unknown) => error,
    );
  }

  it('passes failures through until the K-th, which opens the circuit, stops the consumer and is thrown as CircuitOpenError', async () => {
    // given
    const { store, consumer, breaker } = setup();
    const payments = breaker();

    // when
    const first = await rejectionOf(payments.call(downstreamDown));
    const second = await rejectionOf(payments.call(downstreamDown));
    const third = await rejectionOf(payments.call(downstreamDown));

    // then
    expect((first as Error).message).toBe('503 from payments');
    expect((second as Error).message).toBe('503 from payments');
    expect(third).toBeInstanceOf(CircuitOpenError);
    expect(third).toMatchObject({ circuit: 'payments', retryAt: T0 + seconds(30), retryAfterSeconds: 30 });
    expect(((third as Error).cause as Error).message).toBe('503 from payments');
    expect(consumer.stops).toBe(1);
    expect(await payments.state()).toEqual({ status: 'open', openedAt: T0, openUntil: T0 + seconds(30) });
    expect(await store.names()).toEqual(['payments']);
  });

  it('refuses calls while open without running them, and does not stop the consumer again', async () => {
    // given an open circuit
    const { consumer, clock, breaker } = setup();
    const payments = breaker();
    for (let i = 0; i < 3; i++) await rejectionOf(payments.call(downstreamDown));
    clock.advance(seconds(10));
    let ran = 0;

    // when
    const refused = await rejectionOf(payments.call(async () => void ran++));

    // then
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect(refused).toMatchObject({ retryAfterSeconds: 20 });
    expect(ran).toBe(0);
    expect(consumer.stops).toBe(1);
  });

  it('loses no failure under concurrent calls (optimistic concurrency on the version)', async () => {
    // given
    const { store, consumer, breaker } = setup();
    const payments = breaker();

    // when three invocations fail at once
    const errors = await Promise.all([1, 2, 3].map(() => rejectionOf(payments.call(downstreamDown))));

    // then the three failures were all counted: open, and the consumer stopped once
    expect(store.conflicts).toBeGreaterThan(0);
    expect(errors.filter((e) => e instanceof CircuitOpenError)).toHaveLength(1);
    expect(await payments.state()).toMatchObject({ status: 'open' });
    expect(consumer.stops).toBe(1);
  });

  it('survives a cold start: a new process reads the open state, refuses the call and makes sure the consumer is stopped', async () => {
    // given a circuit opened by one process
    const { consumer, breaker } = setup();
    for (let i = 0; i < 3; i++) await rejectionOf(breaker().call(downstreamDown));
    let ran = 0;

    // when another process (a new instance, same store) calls
    const refused = await rejectionOf(breaker().call(async () => void ran++));

    // then
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect(ran).toBe(0);
    expect(consumer.stops).toBe(2); // the second process made sure, once
  });

  it('retries a stop that failed on the next refused call', async () => {
    const { consumer, breaker } = setup();
    const payments = breaker();
    consumer.failingStops = 1;
    for (let i = 0; i < 3; i++) await rejectionOf(payments.call(downstreamDown));
    expect(consumer.stops).toBe(0);

    await rejectionOf(payments.call(downstreamUp));

    expect(consumer.stops).toBe(1);
  });

  it('after the cool-down, probes with the next call: a success closes the circuit', async () => {
    // given an open circuit, cooled down
    const { consumer, clock, breaker } = setup();
    const payments = breaker();
    for (let i = 0; i < 3; i++) await rejectionOf(payments.call(downstreamDown));
    clock.advance(seconds(30));

    // when
    const result = await payments.call(downstreamUp);

    // then
    expect(result).toBe('charged');
    expect(await payments.state()).toEqual(CLOSED);
    expect(consumer.stops).toBe(1);
  });

  it('after the cool-down, a failed probe opens the circuit again and stops the consumer again', async () => {
    const { consumer, clock, breaker } = setup();
    const payments = breaker();
    for (let i = 0; i < 3; i++) await rejectionOf(payments.call(downstreamDown));
    clock.advance(seconds(31));

    const error = await rejectionOf(payments.call(downstreamDown));

    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(await payments.state()).toEqual({ status: 'open', openedAt: T0 + seconds(31), openUntil: T0 + seconds(61) });
    expect(consumer.stops).toBe(2);
  });

  it('does not count refusals of the request itself (PoisonMessageError), or what countsAsFailure excludes', async () => {
    const { store, consumer, clock } = setup();
    const refusedRequest = () => Promise.reject(new PoisonMessageError('400: unknown card'));
    const payments = new Circuit('payments', { store, consumer, policy, clock: clock.read });
    const email = new Circuit('email', { store, consumer, policy, clock: clock.read, countsAsFailure: (e) => !(e as Error).message.startsWith('4') });

    for (let i = 0; i < 5; i++) {
      await rejectionOf(payments.call(refusedRequest));
      await rejectionOf(email.call(() => Promise.reject(new Error('422'))));
    }

    expect(await payments.state()).toEqual(CLOSED);
    expect(await email.state()).toEqual(CLOSED);
    expect(consumer.stops).toBe(0);
  });

  it('refuses a name that could not be an item key of its own', () => {
    const { store, consumer } = setup();
    expect(thrownBy(() => new Circuit('pay#ments', { store, consumer, policy }))).toMatchObject({ name: 'ConsumerError' });
    expect(thrownBy(() => new Circuit('', { store, consumer, policy }))).toMatchObject({ name: 'ConsumerError' });
  });
});

describe('halfOpenCircuits (one run of the closer)', () => {
  async function openCircuit(store: InMemoryCircuitStore, name: string, at: number): Promise<void> {
    await store.save(name, { status: 'open', openedAt: at, openUntil: at + seconds(30) }, 0);
  }

  it('resumes the consumer and half-opens the circuits whose cool-down is over', async () => {
    // given
    const store = new InMemoryCircuitStore();
    const consumer = new FakeSwitch();
    await openCircuit(store, 'payments', T0);

    // when
    const recovery = await halfOpenCircuits({ store, consumer, clock: () => T0 + seconds(30) });

    // then
    expect(recovery).toEqual({ halfOpened: ['payments'], resumed: true });
    expect(consumer.resumes).toBe(1);
    expect((await store.load('payments')).state).toEqual({ status: 'half-open', since: T0 + seconds(30) });
  });

  it('does nothing before the cool-down is over, or when every circuit is closed', async () => {
    const store = new InMemoryCircuitStore();
    const consumer = new FakeSwitch();
    await openCircuit(store, 'payments', T0);

    expect(await halfOpenCircuits({ store, consumer, clock: () => T0 + seconds(29) })).toEqual({ halfOpened: [], resumed: false });
    expect(await halfOpenCircuits({ store: new InMemoryCircuitStore(), consumer, clock: () => T0 })).toEqual({ halfOpened: [], resumed: false });
    expect(consumer.resumes).toBe(0);
  });

  it('leaves a circuit that a probe changed meanwhile as the probe made it', async () => {
    // given a store in which a consumer's probe re-opens the circuit between the closer's read and write
    const store = new InMemoryCircuitStore();
    await openCircuit(store, 'payments', T0);
    const consumer: ConsumerSwitch = {
      stop: async () => {},
      resume: async () => {
        await store.save('payments', { status: 'open', openedAt: T0 + seconds(31), openUntil: T0 + seconds(61) }, 1);
      },
    };

    // when
    const recovery = await halfOpenCircuits({ store, consumer, clock: () => T0 + seconds(30) });

    // then
    expect(recovery).toEqual({ halfOpened: [], resumed: true });
    expect((await store.load('payments')).state).toMatchObject({ status: 'open', openUntil: T0 + seconds(61) });
  });
});

describe('CircuitBreakerConfigSchema', () => {
  const env = {
    CONSUMER_IDEMPOTENCY_TABLE_NAME: 'idempotency',
    CONSUMER_QUEUE_ARN: 'arn:aws:sqs:eu-west-1:123456789012:board.fifo',
    AWS_LAMBDA_FUNCTION_NAME: 'board-consumer',
  };

  it('defaults the thresholds to 5 failures a minute and a one-minute cool-down', () => {
    expect(parseConfig(CircuitBreakerConfigSchema, env)).toMatchObject({
      CONSUMER_CIRCUIT_FAILURE_THRESHOLD: 5,
      CONSUMER_CIRCUIT_WINDOW_SECONDS: 60,
      CONSUMER_CIRCUIT_COOL_DOWN_SECONDS: 60,
    });
  });

  it('fails the cold start of a consumer deployed without `circuitBreaker`, saying so', () => {
    const error = thrownBy(() => parseConfig(CircuitBreakerConfigSchema, { ...env, CONSUMER_QUEUE_ARN: undefined, CONSUMER_CIRCUIT_FAILURE_THRESHOLD: '0' }));

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([
      expect.stringMatching(/^CONSUMER_QUEUE_ARN: is missing: give the EventConsumer `circuitBreaker` props/),
      expect.stringMatching(/^CONSUMER_CIRCUIT_FAILURE_THRESHOLD: /),
    ]);
  });
});

describe('EventSourceMappingSwitch (the Lambda adapter)', () => {
  const QUEUE_ARN = 'arn:aws:sqs:eu-west-1:123456789012:board';

  /** A Lambda client that answers ListEventSourceMappings with `uuids` and records every call. */
  function fakeLambda(uuids: string[], updateFailures: unknown[] = []) {
    const calls: Array<{ command: string; input: unknown }> = [];
    const client = {
      send: async (command: ListEventSourceMappingsCommand | UpdateEventSourceMappingCommand) => {
        calls.push({ command: command.constructor.name, input: command.input });
        if (command instanceof ListEventSourceMappingsCommand) return { EventSourceMappings: uuids.map((UUID) => ({ UUID })) };
        const failure = updateFailures.shift();
        if (failure) throw failure;
        return {};
      },
    } as unknown as LambdaClient;
    return { client, calls };
  }
  const inUse = () => new ResourceInUseException({ message: 'mapping is Disabling', $metadata: {} });

  it('finds the mappings of the function on the queue once, then disables or enables each', async () => {
    const { client, calls } = fakeLambda(['m-1']);
    const consumer = new EventSourceMappingSwitch(client, 'board-consumer', QUEUE_ARN, async () => {});

    await consumer.stop();
    await consumer.resume();

    expect(calls).toEqual([
      { command: 'ListEventSourceMappingsCommand', input: { FunctionName: 'board-consumer', EventSourceArn: QUEUE_ARN, Marker: undefined } },
      { command: 'UpdateEventSourceMappingCommand', input: { UUID: 'm-1', Enabled: false } },
      { command: 'UpdateEventSourceMappingCommand', input: { UUID: 'm-1', Enabled: true } },
    ]);
  });

  it('retries a mapping that is still changing state (ResourceInUseException), then gives up', async () => {
    const pauses: number[] = [];
    const pause = async (ms: number) => void pauses.push(ms);
    const retried = fakeLambda(['m-1'], [inUse(), inUse()]);
    const stuck = fakeLambda(['m-1'], [inUse(), inUse(), inUse(), inUse()]);

    await new EventSourceMappingSwitch(retried.client, 'board-consumer', QUEUE_ARN, pause).stop();
    const error = await new EventSourceMappingSwitch(stuck.client, 'board-consumer', QUEUE_ARN, pause).stop().catch((e: unknown) => e);

    expect(retried.calls.filter((c) => c.command === 'UpdateEventSourceMappingCommand')).toHaveLength(3);
    expect(error).toBeInstanceOf(ResourceInUseException);
    expect(pauses).toEqual([1000, 2000, 1000, 2000, 3000]);
  });

  it('fails when the function has no mapping on the queue, and asks again next time', async () => {
    const { client, calls } = fakeLambda([]);
    const consumer = new EventSourceMappingSwitch(client, 'board-consumer', QUEUE_ARN, async () => {});

    const error = await consumer.stop().catch((e: unknown) => e);
    await consumer.stop().catch(() => undefined);

    expect(error).toMatchObject({ name: 'ConsumerError', message: `no event-source mapping of board-consumer on ${QUEUE_ARN}` });
    expect(calls.filter((c) => c.command === 'ListEventSourceMappingsCommand')).toHaveLength(2);
  });
});
