import type { Logger } from '@aws-lambda-powertools/logger';
import {
  admit,
  halfOpen,
  recordFailure,
  recordSuccess,
  shouldProbe,
  type CircuitPolicy,
  type CircuitState,
  type CircuitStore,
  type ConsumerSwitch,
  type VersionedCircuitState,
} from './circuitBreaker';
import { CircuitOpenError, ConsumerError, PoisonMessageError } from './errors';

export interface CircuitDependencies {
  readonly store: CircuitStore;
  readonly consumer: ConsumerSwitch;
  readonly policy: CircuitPolicy;
  /** Epoch milliseconds. @default Date.now */
  readonly clock?: () => number;
  readonly logger?: Pick<Logger, 'info' | 'warn'>;
  /**
   * Which errors of a wrapped call are failures of the other system. An answer that the request is
   * wrong (say a 4xx, thrown as `PoisonMessageError`) says nothing about its health.
   * @default every error but a `PoisonMessageError`
   */
  readonly countsAsFailure?: (error: unknown) => boolean;
}

const NAME = /^[A-Za-z0-9._-]{1,100}$/;
/** Optimistic writes lost in a row before giving up (the message is then retried). */
const MAX_CONFLICTS = 10;

/**
 * One circuit breaker of a consumer around its calls to another system, its state shared by every
 * invocation and cold start (a `CircuitStore`). `call` runs the operation unless the circuit is open;
 * a failure is counted, and the failure that opens the circuit stops the consumer (a `ConsumerSwitch`)
 * and is thrown as `CircuitOpenError`, as is every call refused while it is open: the consumer retries
 * the message once the circuit may be probed. See `circuitBreaker.ts` for the states.
 */
export class Circuit {
  /** The open period (its `openedAt`) for which this process has made sure the consumer is stopped. */
  private stoppedFor: number | undefined;
  private readonly now: () => number;
  private readonly countsAsFailure: (error: unknown) => boolean;

  constructor(
    readonly name: string,
    private readonly dependencies: CircuitDependencies,
  ) {
    if (!NAME.test(name)) throw new ConsumerError(`circuit name ${JSON.stringify(name)} must be 1 to 100 letters, digits, '.', '_' or '-'`);
    this.now = dependencies.clock ?? Date.now;
    this.countsAsFailure = dependencies.countsAsFailure ?? ((error) => !(error instanceof PoisonMessageError));
  }

  async call<T>(operation: () => Promise<T>): Promise<T> {
    const now = this.now();
    let current = await this.dependencies.store.load(this.name);
    if (shouldProbe(current.state, now)) {
      // The cool-down is over (the closer may not have run yet): this call is a probe.
      current = (await this.update(current, (state) => halfOpen(state, now))).after;
      if (current.state.status === 'half-open') this.dependencies.logger?.info('circuit half-open: probing', { circuit: this.name });
    }
    const admission = admit(current.state, now);
    if (admission.verdict === 'reject') {
      await this.ensureStopped(current.state);
      throw new CircuitOpenError(this.name, admission.retryAt, now);
    }

    let result: T;
    try {
      result = await operation();
    } catch (error) {
      if (!this.countsAsFailure(error)) throw error;
      const { before, after } = await this.update(current, (state, at) => recordFailure(state, at, this.dependencies.policy));
      if (after.state.status !== 'open') throw error;
      if (before.status !== 'open') {
        this.dependencies.logger?.warn('circuit opened: stopping the consumer', { circuit: this.name, from: before.status, openUntil: new Date(after.state.openUntil).toISOString() });
      }
      await this.ensureStopped(after.state);
      throw new CircuitOpenError(this.name, after.state.openUntil, this.now(), { cause: error });
    }
    if (current.state.status !== 'closed') {
      const { before, after } = await this.update(current, recordSuccess);
      if (before.status === 'half-open' && after.state.status === 'closed') this.dependencies.logger?.info('circuit closed', { circuit: this.name });
    }
    return result;
  }

  /** The stored state (for tools and tests). */
  async state(): Promise<CircuitState> {
    return (await this.dependencies.store.load(this.name)).state;
  }

  /**
   * Applies a transition with optimistic concurrency: on a lost race, reads again and re-applies, so
   * that no concurrent failure is lost. A transition that changes nothing writes nothing.
   */
  private async update(
    from: VersionedCircuitState,
    transition: (state: CircuitState, now: number) => CircuitState,
  ): Promise<{ before: CircuitState; after: VersionedCircuitState }> {
    let current = from;
    for (let attempt = 1; attempt <= MAX_CONFLICTS; attempt++) {
      const next = transition(current.state, this.now());
      if (next === current.state) return { before: current.state, after: current };
      if (await this.dependencies.store.save(this.name, next, current.version)) return { before: current.state, after: { state: next, version: current.version + 1 } };
      current = await this.dependencies.store.load(this.name);
    }
    throw new ConsumerError(`circuit ${this.name}: its state changed under ${MAX_CONFLICTS} writes in a row`);
  }

  /**
   * Stops the consumer once per open period and process: the invocation that opened the circuit
   * does, and any other that finds it open makes sure (a stop that failed is tried again).
   */
  private async ensureStopped(state: CircuitState): Promise<void> {
    if (state.status !== 'open' || this.stoppedFor === state.openedAt) return;
    try {
      await this.dependencies.consumer.stop();
      this.stoppedFor = state.openedAt;
    } catch (error) {
      // The message is refused anyway; the next refused call tries again.
      this.dependencies.logger?.warn('could not stop the consumer', { circuit: this.name, errorName: error instanceof Error ? error.name : 'UnknownError', error: String(error) });
    }
  }
}
