import type { NewEvent } from '../outbox/planCommit';
import { DEFAULT_COMPENSATION_ATTEMPTS, DEFAULT_STEP_ATTEMPTS, MAX_TIMER_DELAY_SECONDS, sagaEventTypes, type SagaDefinition, type SagaStep } from './defineSaga';

export type SagaStatus = 'running' | 'compensating' | 'completed' | 'compensated' | 'failed';
export type SagaPhase = 'forward' | 'compensation';

/** What the saga waits for now: one step's outcome (or its compensation's), by `dueAt`. */
export interface SagaWaiting {
  readonly step: string;
  readonly phase: SagaPhase;
  readonly attempt: number;
  /** False while a refused compensation waits out its backoff before it is sent again. */
  readonly sent: boolean;
  /** Epoch ms: when the step times out (or, unsent, when the command goes out). */
  readonly dueAt: number;
}

/** A command as sent: the definition's command plus where it belongs. `commandId` is stable across re-sends. */
export interface OutgoingCommand {
  readonly commandId: string;
  readonly saga: string;
  readonly sagaId: string;
  readonly step: string;
  readonly phase: SagaPhase;
  readonly attempt: number;
  readonly target: string;
  readonly type: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** A delayed message to the saga itself: "is the saga still waiting on this step's attempt at `dueAt`?". */
export interface SagaTimer {
  readonly sagaId: string;
  readonly step: string;
  readonly phase: SagaPhase;
  readonly attempt: number;
  readonly dueAt: number;
  /** At most 900 (SQS); a longer wait arrives early and is re-armed. */
  readonly delaySeconds: number;
}

export interface SagaEffects {
  readonly commands: readonly OutgoingCommand[];
  readonly timers: readonly SagaTimer[];
}

/** A saga instance, as stored (version-conditioned) in the saga's table. */
export interface SagaState<I = unknown> {
  readonly saga: string;
  readonly sagaId: string;
  readonly input: I;
  readonly status: SagaStatus;
  /** Absent once the saga has finished. */
  readonly waiting?: SagaWaiting;
  /** Steps that completed, in order. */
  readonly completedSteps: readonly string[];
  /** Steps still to undo, in the order they are undone; the head is in progress. */
  readonly pendingCompensations: readonly string[];
  /** Step name → data of the event that completed it. */
  readonly results: Readonly<Record<string, unknown>>;
  readonly failure?: { readonly step: string; readonly reason: 'refused' | 'timed-out'; readonly eventType?: string };
  /** The input that made the last change, and what that change sent: sent again if that input is redelivered. */
  readonly lastInputId: string;
  readonly effects: SagaEffects;
  readonly startedAt: string;
  readonly updatedAt: string;
}

/** What advances a saga: a request to start, an event of a step, or one of its own timers. */
export type SagaInput<I = unknown> =
  | { readonly kind: 'start'; readonly id: string; readonly sagaId: string; readonly input: I; readonly at: Date }
  | { readonly kind: 'event'; readonly id: string; readonly sagaId: string; readonly type: string; readonly data: Readonly<Record<string, unknown>>; readonly at: Date }
  | {
      readonly kind: 'timeout';
      readonly id: string;
      readonly sagaId: string;
      readonly step: string;
      readonly phase: SagaPhase;
      readonly attempt: number;
      readonly dueAt: number;
      readonly at: Date;
    };

export type IgnoredReason = 'duplicate' | 'late' | 'unknown-saga' | 'already-started' | 'finished' | 'early-timer';

export type SagaAdvance<I = unknown> =
  | { readonly outcome: 'advanced'; readonly state: SagaState<I>; readonly events: readonly NewEvent[]; readonly effects: SagaEffects; readonly done: boolean }
  /** Nothing to store; `resend` is what to send again (a duplicate's effects, a re-armed timer), often nothing. */
  | { readonly outcome: 'ignored'; readonly reason: IgnoredReason; readonly resend: SagaEffects };

const NO_EFFECTS: SagaEffects = { commands: [], timers: [] };
/** A timer may fire this much before its due time (clock differences between hosts) and still count. */
export const TIMER_TOLERANCE_MS = 1_000;
/** Longest wait before a refused compensation is sent again. */
export const MAX_COMPENSATION_BACKOFF_SECONDS = 60;

export const commandIdOf = (sagaId: string, step: string, phase: SagaPhase, attempt: number): string => `${sagaId}/${step}/${phase}/${attempt}`;

/**
 * The saga's pure core: given an instance's state (or none) and one input, the new state, the
 * saga's own events to commit with it, and the commands and timers to send after the commit.
 * Inputs the saga is not waiting for are ignored (duplicates, late answers, stale timers); a
 * duplicate of the input that made the last change asks for that change's effects to be sent again
 * (they are idempotent: same command ids, timers checked against the state).
 */
export function advance<I>(definition: SagaDefinition<I>, state: SagaState<I> | undefined, input: SagaInput<I>): SagaAdvance<I> {
  if (state === undefined) return input.kind === 'start' ? start(definition, input) : ignored('unknown-saga');
  if (input.id === state.lastInputId) return { outcome: 'ignored', reason: 'duplicate', resend: state.effects };
  if (input.kind === 'start') return ignored('already-started');
  const waiting = state.waiting;
  if (waiting === undefined) return ignored('finished');
  const step = stepNamed(definition, waiting.step);
  const at = input.at.getTime();

  if (input.kind === 'timeout') {
    if (input.step !== waiting.step || input.phase !== waiting.phase || input.attempt !== waiting.attempt || input.dueAt !== waiting.dueAt) return ignored('late');
    if (at < waiting.dueAt - TIMER_TOLERANCE_MS) return { outcome: 'ignored', reason: 'early-timer', resend: { commands: [], timers: [timer(state.sagaId, waiting, at)] } };
    const next = { ...state, lastInputId: input.id, updatedAt: input.at.toISOString() };
    if (waiting.phase === 'compensation') {
      if (waiting.sent) return retryCompensation(definition, next, step, at, 'timed out');
      // A refused compensation's backoff is over: send it again.
      return sendCompensation(definition, next, step, waiting.attempt, at, [own(definition, 'compensationRetried', state.sagaId, { step: step.name, attempt: waiting.attempt })]);
    }
    // No answer in time is "unknown", not "refused": send the (idempotent) step again while attempts remain.
    if (waiting.attempt < attemptsOf(definition, step)) {
      return sendStep(definition, next, step, waiting.attempt + 1, at, [own(definition, 'stepRetried', state.sagaId, { step: step.name, attempt: waiting.attempt + 1 })]);
    }
    return inDoubt(definition, next, step, { step: step.name, reason: 'timed-out' }, `had no answer after ${waiting.attempt} attempts`, at);
  }

  const next = { ...state, lastInputId: input.id, updatedAt: input.at.toISOString() };
  if (waiting.phase === 'forward') {
    if (input.type === step.completedBy) {
      const completed = { ...next, completedSteps: [...state.completedSteps, step.name], results: { ...state.results, [step.name]: input.data } };
      const events: NewEvent[] = [own(definition, 'stepCompleted', state.sagaId, { step: step.name })];
      const index = definition.steps.indexOf(step);
      const following = definition.steps[index + 1];
      if (following === undefined) {
        const { waiting: _done, ...finished } = completed;
        return advanced({ ...finished, status: 'completed', effects: NO_EFFECTS }, [...events, own(definition, 'completed', state.sagaId, {})], NO_EFFECTS, true);
      }
      return sendStep(definition, completed, following, 1, at, events);
    }
    if (step.failedBy.includes(input.type)) {
      const failure = { step: step.name, reason: 'refused' as const, eventType: input.type };
      // A refusal answers one attempt; once the step was sent again, another attempt may still happen —
      // unless the targets keep refusals (`refusalsAreFinal`).
      if (waiting.attempt > 1 && definition.refusalsAreFinal !== true) return inDoubt(definition, next, step, failure, `was refused, but it was sent ${waiting.attempt} times and another attempt may still apply`, at);
      const failed = { ...next, failure };
      const pivot = completedPivot(definition, state.completedSteps);
      if (pivot !== undefined) return stopForOperator(definition, failed, [stepFailed(definition, next, failure)], `step ${step.name} was refused after step ${pivot}, which cannot be undone`);
      return beginCompensation(definition, failed, compensable(definition, state.completedSteps), at, [stepFailed(definition, next, failure)]);
    }
    return ignored('late');
  }

  const compensation = step.compensate;
  if (compensation === undefined) return ignored('late');
  // Compensations are idempotent: an answer to any attempt of this one says the step is undone.
  if (input.type === compensation.completedBy) {
    const [, ...rest] = state.pendingCompensations;
    return continueCompensation(definition, next, rest, at, [own(definition, 'stepCompensated', state.sagaId, { step: step.name })]);
  }
  if (waiting.sent && (compensation.failedBy ?? []).includes(input.type)) return retryCompensation(definition, next, step, at, `refused (${input.type})`);
  return ignored('late');
}

function start<I>(definition: SagaDefinition<I>, input: Extract<SagaInput<I>, { kind: 'start' }>): SagaAdvance<I> {
  const first = definition.steps[0]!;
  const at = input.at.toISOString();
  const state: SagaState<I> = {
    saga: definition.name,
    sagaId: input.sagaId,
    input: input.input,
    status: 'running',
    completedSteps: [],
    pendingCompensations: [],
    results: {},
    lastInputId: input.id,
    effects: NO_EFFECTS,
    startedAt: at,
    updatedAt: at,
  };
  return sendStep(definition, state, first, 1, input.at.getTime(), [own(definition, 'started', input.sagaId, { steps: definition.steps.map((s) => s.name) })]);
}

/** Waits on `step` going forward: attempt `attempt` of its command (an answer to any attempt counts) and its timer. */
function sendStep<I>(definition: SagaDefinition<I>, state: SagaState<I>, step: SagaStep<I>, attempt: number, at: number, events: NewEvent[]): SagaAdvance<I> {
  const waiting: SagaWaiting = { step: step.name, phase: 'forward', attempt, sent: true, dueAt: at + step.timeout * 1000 };
  const effects: SagaEffects = { commands: [outgoing(definition, state, step, waiting)], timers: [timer(state.sagaId, waiting, at)] };
  return advanced({ ...state, status: 'running', waiting, effects }, events, effects, false);
}

/**
 * `step` may have happened and its outcome will not be known: undo it too with the completed steps,
 * if all of them can be undone; if it or a completed step is a pivot, stop for an operator.
 */
function inDoubt<I>(definition: SagaDefinition<I>, state: SagaState<I>, step: SagaStep<I>, failure: NonNullable<SagaState['failure']>, why: string, at: number): SagaAdvance<I> {
  const failed = { ...state, failure };
  const events = [stepFailed(definition, state, failure)];
  if (step.compensate === undefined) return stopForOperator(definition, failed, events, `step ${step.name} ${why}; it may have happened and cannot be undone`);
  const pivot = completedPivot(definition, state.completedSteps);
  if (pivot !== undefined) return stopForOperator(definition, failed, events, `step ${step.name} ${why}; step ${pivot} before it cannot be undone`);
  return beginCompensation(definition, failed, [step.name, ...compensable(definition, state.completedSteps)], at, events);
}

/** The saga can go neither forward nor back: it ends `failed`, undoing nothing, with a reason for the operator. */
function stopForOperator<I>(definition: SagaDefinition<I>, state: SagaState<I> & { failure: NonNullable<SagaState['failure']> }, events: NewEvent[], why: string): SagaAdvance<I> {
  const { waiting: _stopped, ...rest } = state;
  const failed = own(definition, 'failed', state.sagaId, { step: state.failure.step, reason: `${why}: the saga stops without compensating (needs an operator)` });
  return advanced({ ...rest, status: 'failed', pendingCompensations: [], effects: NO_EFFECTS }, [...events, failed], NO_EFFECTS, true);
}

/** After a failure: undo `toUndo` in order, or report the saga compensated when there is nothing to undo. */
function beginCompensation<I>(definition: SagaDefinition<I>, state: SagaState<I>, toUndo: readonly string[], at: number, events: NewEvent[]): SagaAdvance<I> {
  return continueCompensation(definition, { ...state, status: 'compensating' }, toUndo, at, events);
}

function continueCompensation<I>(definition: SagaDefinition<I>, state: SagaState<I>, toUndo: readonly string[], at: number, events: NewEvent[]): SagaAdvance<I> {
  const [head] = toUndo;
  if (head === undefined) {
    const { waiting: _done, ...rest } = state;
    const failure = state.failure;
    const done = own(definition, 'compensated', state.sagaId, failure ? { failedStep: failure.step, reason: failure.reason } : {});
    return advanced({ ...rest, status: 'compensated', pendingCompensations: [], effects: NO_EFFECTS }, [...events, done], NO_EFFECTS, true);
  }
  return sendCompensation(definition, { ...state, pendingCompensations: toUndo }, stepNamed(definition, head), 1, at, events);
}

/** Sends attempt `attempt` of `step`'s compensation, with its timer. */
function sendCompensation<I>(definition: SagaDefinition<I>, state: SagaState<I>, step: SagaStep<I>, attempt: number, at: number, events: NewEvent[]): SagaAdvance<I> {
  const waiting: SagaWaiting = { step: step.name, phase: 'compensation', attempt, sent: true, dueAt: at + step.timeout * 1000 };
  const effects: SagaEffects = { commands: [outgoing(definition, state, step, waiting)], timers: [timer(state.sagaId, waiting, at)] };
  return advanced({ ...state, status: 'compensating', waiting, effects }, events, effects, false);
}

/** A compensation attempt failed: try again after a backoff, or give up loudly once the attempts are used. */
function retryCompensation<I>(definition: SagaDefinition<I>, state: SagaState<I>, step: SagaStep<I>, at: number, why: string): SagaAdvance<I> {
  const attempt = state.waiting!.attempt;
  const maxAttempts = definition.compensationAttempts ?? DEFAULT_COMPENSATION_ATTEMPTS;
  if (attempt >= maxAttempts) {
    const { waiting: _stuck, ...rest } = state;
    const reason = `compensation of step ${step.name} ${why}; gave up after ${attempt} attempts (needs an operator)`;
    return advanced({ ...rest, status: 'failed', effects: NO_EFFECTS }, [own(definition, 'failed', state.sagaId, { step: step.name, reason })], NO_EFFECTS, true);
  }
  const failed = own(definition, 'compensationFailed', state.sagaId, { step: step.name, attempt, reason: why });
  if (why === 'timed out') {
    return sendCompensation(definition, state, step, attempt + 1, at, [failed, own(definition, 'compensationRetried', state.sagaId, { step: step.name, attempt: attempt + 1 })]);
  }
  // Refused: wait a little (doubling, at most a minute or the step's timeout) before sending it again.
  const backoffSeconds = Math.min(2 ** (attempt - 1), step.timeout, MAX_COMPENSATION_BACKOFF_SECONDS);
  const waiting: SagaWaiting = { step: step.name, phase: 'compensation', attempt: attempt + 1, sent: false, dueAt: at + backoffSeconds * 1000 };
  const effects: SagaEffects = { commands: [], timers: [timer(state.sagaId, waiting, at)] };
  return advanced({ ...state, waiting, effects }, [failed], effects, false);
}

function outgoing<I>(definition: SagaDefinition<I>, state: SagaState<I>, step: SagaStep<I>, waiting: SagaWaiting): OutgoingCommand {
  const ctx = { sagaId: state.sagaId, input: state.input, results: state.results };
  const command = waiting.phase === 'forward' ? step.command(ctx) : step.compensate!.command(ctx);
  return {
    commandId: commandIdOf(state.sagaId, step.name, waiting.phase, waiting.attempt),
    saga: definition.name,
    sagaId: state.sagaId,
    step: step.name,
    phase: waiting.phase,
    attempt: waiting.attempt,
    target: command.target,
    type: command.type,
    data: command.data,
  };
}

function timer(sagaId: string, waiting: SagaWaiting, at: number): SagaTimer {
  const delaySeconds = Math.min(MAX_TIMER_DELAY_SECONDS, Math.max(0, Math.ceil((waiting.dueAt - at) / 1000)));
  return { sagaId, step: waiting.step, phase: waiting.phase, attempt: waiting.attempt, dueAt: waiting.dueAt, delaySeconds };
}

const attemptsOf = <I>(definition: SagaDefinition<I>, step: SagaStep<I>): number => step.attempts ?? definition.stepAttempts ?? DEFAULT_STEP_ATTEMPTS;

/** The first completed step that cannot be undone (a pivot), if any: the saga cannot go back across it. */
const completedPivot = <I>(definition: SagaDefinition<I>, completed: readonly string[]): string | undefined => completed.find((name) => stepNamed(definition, name).compensate === undefined);

const compensable = <I>(definition: SagaDefinition<I>, completed: readonly string[]): string[] =>
  [...completed].reverse().filter((name) => stepNamed(definition, name).compensate !== undefined);

function stepNamed<I>(definition: SagaDefinition<I>, name: string): SagaStep<I> {
  const step = definition.steps.find((s) => s.name === name);
  if (!step) throw new Error(`saga ${definition.name} has no step ${name} (the definition changed under a running instance)`);
  return step;
}

const stepFailed = <I>(definition: SagaDefinition<I>, state: SagaState<I>, failure: NonNullable<SagaState['failure']>): NewEvent =>
  own(definition, 'stepFailed', state.sagaId, { step: failure.step, reason: failure.reason, ...(failure.eventType ? { eventType: failure.eventType } : {}) });

function own<I>(definition: SagaDefinition<I>, role: keyof ReturnType<typeof sagaEventTypes>, sagaId: string, data: Record<string, unknown>): NewEvent {
  return { type: sagaEventTypes(definition.name)[role], data: { sagaId, ...data } };
}

const advanced = <I>(state: SagaState<I>, events: readonly NewEvent[], effects: SagaEffects, done: boolean): SagaAdvance<I> => ({ outcome: 'advanced', state, events, effects, done });
const ignored = (reason: IgnoredReason): SagaAdvance<never> => ({ outcome: 'ignored', reason, resend: NO_EFFECTS });
