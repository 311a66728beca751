/**
 * A circuit breaker for a consumer's calls to another system, as pure transitions (time is an input,
 * in epoch milliseconds) and the ports its shell needs.
 *
 * - **closed**: calls go through; a failure is remembered with its time. `failureThreshold` failures
 *   within `windowMs` (a sliding window; successes do not reset it) open the circuit. Calls admitted
 *   before it opened (a batch's other records, run in parallel) still go through.
 * - **open**: calls are refused without reaching the other system, and the consumer stops consuming
 *   (its event-source mapping is disabled), so messages wait in the queue instead of burning retries.
 * - **half-open**: after `coolDownMs` the circuit is due a probe; calls go through again (at most a
 *   batch per concurrent invocation, as the mapping delivers them). The first success closes it, the
 *   first failure opens it again for another cool-down.
 */

export interface CircuitPolicy {
  /** Failures within the window that open the circuit, at least 1. */
  readonly failureThreshold: number;
  readonly windowMs: number;
  /** How long an open circuit refuses calls before it may be probed. */
  readonly coolDownMs: number;
}

export type CircuitState =
  /** `failures`: times of the failures still inside the window, oldest first. */
  | { readonly status: 'closed'; readonly failures: readonly number[] }
  | { readonly status: 'open'; readonly openedAt: number; readonly openUntil: number }
  | { readonly status: 'half-open'; readonly since: number };

export const CLOSED: CircuitState = { status: 'closed', failures: [] };

/** What a call may do now: go through, probe a circuit whose cool-down is over, or be refused. */
export type Admission = { readonly verdict: 'call' } | { readonly verdict: 'probe' } | { readonly verdict: 'reject'; readonly retryAt: number };

/** The circuit's cool-down is over: it may be half-opened and probed. */
export const shouldProbe = (state: CircuitState, now: number): boolean => state.status === 'open' && now >= state.openUntil;

export function admit(state: CircuitState, now: number): Admission {
  if (state.status !== 'open') return { verdict: 'call' };
  return shouldProbe(state, now) ? { verdict: 'probe' } : { verdict: 'reject', retryAt: state.openUntil };
}

/** A failed call: counted while closed, re-opens a half-open circuit; an open circuit stays as it is. */
export function recordFailure(state: CircuitState, now: number, policy: CircuitPolicy): CircuitState {
  switch (state.status) {
    case 'open':
      return state;
    case 'half-open':
      return open(now, policy);
    case 'closed': {
      const failures = [...state.failures.filter((at) => at > now - policy.windowMs), now];
      return failures.length >= policy.failureThreshold ? open(now, policy) : { status: 'closed', failures };
    }
  }
}

/**
 * A successful call closes a half-open circuit. A closed one keeps its failures (they leave the
 * window with time); an open one stays open (the call started before another invocation opened it).
 */
export const recordSuccess = (state: CircuitState): CircuitState => (state.status === 'half-open' ? CLOSED : state);

/** Half-opens a circuit whose cool-down is over; any other state is returned as is. */
export const halfOpen = (state: CircuitState, now: number): CircuitState => (shouldProbe(state, now) ? { status: 'half-open', since: now } : state);

const open = (now: number, policy: CircuitPolicy): CircuitState => ({ status: 'open', openedAt: now, openUntil: now + policy.coolDownMs });

export interface NamedCircuit {
  readonly name: string;
  readonly state: CircuitState;
}

/**
 * What the closer does for one consumer: half-open the circuits whose cool-down is over and resume
 * the consumer — but only once no circuit of the consumer is still cooling down, since a resumed
 * consumer would only have its calls to that one refused (each refusal a delivery spent).
 */
export function planRecovery(circuits: readonly NamedCircuit[], now: number): { readonly halfOpen: readonly string[]; readonly resume: boolean } {
  const due = circuits.filter((c) => shouldProbe(c.state, now)).map((c) => c.name);
  const cooling = circuits.some((c) => c.state.status === 'open' && !shouldProbe(c.state, now));
  return cooling || due.length === 0 ? { halfOpen: [], resume: false } : { halfOpen: due, resume: true };
}

// Ports -------------------------------------------------------------------------------------------

export interface VersionedCircuitState {
  readonly state: CircuitState;
  /** 0 for a circuit never stored; a save must name the version it read. */
  readonly version: number;
}

/** Where a consumer's circuits live, shared by all its concurrent invocations and cold starts. */
export interface CircuitStore {
  /** A circuit never stored is closed, at version 0. */
  load(name: string): Promise<VersionedCircuitState>;
  /** Stores `state` as `expectedVersion + 1`; false (nothing written) when another writer came first. */
  save(name: string, state: CircuitState, expectedVersion: number): Promise<boolean>;
  /** The names of the circuits that have ever opened (the closer looks at these only). */
  names(): Promise<string[]>;
}

/** Starts and stops the consumer's consumption (its event-source mapping). Both are idempotent. */
export interface ConsumerSwitch {
  stop(): Promise<void>;
  resume(): Promise<void>;
}
