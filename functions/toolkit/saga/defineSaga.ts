import type * as z from 'zod';
import { InvalidSagaDefinitionError } from './errors';

/** What a step's command builder sees: the saga's id and input, and what the completed steps answered. */
export interface SagaContext<I> {
  readonly sagaId: string;
  readonly input: I;
  /** Step name → the `data` of the event that completed it. */
  readonly results: Readonly<Record<string, unknown>>;
}

/** A command for one target service ("commands: one target, send"): imperative `type`, e.g. `ReserveFunds`. */
export interface SagaCommand {
  /** The service whose command queue receives it, e.g. `wallet` (a key of the saga's command queues). */
  readonly target: string;
  readonly type: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** How a step is undone: a command, and the events that say it was (or could not be) undone. */
export interface SagaCompensation<I> {
  readonly command: (ctx: SagaContext<I>) => SagaCommand;
  /** The event type that says the step was undone. The target answers it even when there was nothing to undo. */
  readonly completedBy: string;
  /** Event types that say the undo failed this time: it is retried (never dropped). @default none */
  readonly failedBy?: readonly string[];
}

/**
 * One step: send a command, wait `timeout` seconds for one of its outcome events; no answer in time
 * is "unknown", not "refused": the command is sent again (its target must answer every attempt),
 * up to `attempts` times. A step without `compensate` is a **pivot**: once it may have happened,
 * the saga only goes forward (see the README's rules).
 */
export interface SagaStep<I> {
  readonly name: string;
  readonly command: (ctx: SagaContext<I>) => SagaCommand;
  /** The event type that says the step succeeded. An answer to any attempt counts. */
  readonly completedBy: string;
  /**
   * Event types that say the step was refused (that attempt did nothing): the completed steps are
   * compensated, unless a pivot completed before it (then the saga fails for an operator). Once the
   * step was sent more than once, a refusal leaves it in doubt (another attempt may still apply),
   * like its last timeout.
   */
  readonly failedBy: readonly string[];
  /**
   * Undoes the step once it completed (or once it may have happened: after its last attempt timed
   * out, it is undone too). A step without one cannot be undone: it is a pivot.
   */
  readonly compensate?: SagaCompensation<I>;
  /** Seconds to wait for an outcome of each attempt (and of each compensation attempt). */
  readonly timeout: number;
  /** Attempts (sends of the command, each with `timeout`) before the step's outcome counts as unknown for good. @default the saga's `stepAttempts` */
  readonly attempts?: number;
}

/** A saga as data: the steps in order, read top to bottom. */
export interface SagaDefinition<I = unknown> {
  /**
   * Dotted lower-case name, e.g. `wallet.transfer`: the `source` and the prefix of the saga's own
   * events (`wallet.transfer.started`, `.completed`, `.compensated`, `.failed`, …).
   */
  readonly name: string;
  /** The input a saga instance starts with (validated when it is requested). */
  readonly input: z.ZodType<I>;
  /**
   * What an instance's id must be (validated when it is requested, by `SagaClient.start` and by the
   * saga's queue): it becomes part of the instance's keys. @default any non-empty string
   */
  readonly sagaId?: z.ZodType<string>;
  /** The field of every step event's `data` that names the saga instance, e.g. `transferId`. */
  readonly correlateBy: string;
  readonly steps: readonly SagaStep<I>[];
  /** Attempts of each step whose answer does not come in time (a step may set its own `attempts`). @default 3 */
  readonly stepAttempts?: number;
  /** Attempts of each compensation before the saga gives up and reports `<name>.failed`. @default 10 */
  readonly compensationAttempts?: number;
  /**
   * Whether the steps' targets keep a refusal: once a step of an instance was refused, they refuse
   * every later attempt of it too (the wallet does). Then a refusal is definitive also after the step
   * was sent again, and the saga compensates at once. Without it, a refusal after a re-send leaves
   * the step in doubt (another attempt may still apply), as a last timeout does.
   * @default false
   */
  readonly refusalsAreFinal?: boolean;
}

/** SQS per-message delay limit: longer timeouts are re-armed in slices of this. */
export const MAX_TIMER_DELAY_SECONDS = 900;
export const DEFAULT_STEP_ATTEMPTS = 3;
export const DEFAULT_COMPENSATION_ATTEMPTS = 10;
const MAX_ATTEMPTS = 100;
const isAttempts = (n: number | undefined): boolean => n === undefined || (Number.isInteger(n) && n >= 1 && n <= MAX_ATTEMPTS);
const NAME = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/;

/** Checks a saga definition and returns it unchanged (typed); throws one error that lists every problem. */
export function defineSaga<I>(definition: SagaDefinition<I>): SagaDefinition<I> {
  const problems: string[] = [];
  if (!NAME.test(definition.name)) problems.push('`name` must be dotted and lower-case, e.g. `wallet.transfer`');
  if (definition.steps.length === 0) problems.push('a saga needs at least one step');
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(definition.correlateBy)) problems.push('`correlateBy` must be a field name');
  if (!isAttempts(definition.stepAttempts)) problems.push(`\`stepAttempts\` must be an integer from 1 to ${MAX_ATTEMPTS}`);
  if (!isAttempts(definition.compensationAttempts)) problems.push(`\`compensationAttempts\` must be an integer from 1 to ${MAX_ATTEMPTS}`);
  const names = new Set<string>();
  const own = new Set(ownEventTypes(definition.name));
  for (const step of definition.steps) {
    if (!/^[a-z][A-Za-z0-9-]*$/.test(step.name)) problems.push(`step name "${step.name}" must be a simple word, e.g. reserve`);
    if (names.has(step.name)) problems.push(`step "${step.name}" appears twice`);
    names.add(step.name);
    if (!Number.isInteger(step.timeout) || step.timeout < 1) problems.push(`step "${step.name}": \`timeout\` must be a whole number of seconds, at least 1`);
    if (!isAttempts(step.attempts)) problems.push(`step "${step.name}": \`attempts\` must be an integer from 1 to ${MAX_ATTEMPTS}`);
    const outcomes = [step.completedBy, ...step.failedBy, ...(step.compensate ? [step.compensate.completedBy, ...(step.compensate.failedBy ?? [])] : [])];
    for (const type of outcomes) {
      if (!NAME.test(type)) problems.push(`step "${step.name}": event type "${type}" must be dotted and lower-case`);
      if (own.has(type) || type.startsWith(`${definition.name}.`)) problems.push(`step "${step.name}": event type "${type}" is in the saga's own namespace`);
    }
    if (new Set(outcomes).size !== outcomes.length) problems.push(`step "${step.name}": an event type is used for two outcomes`);
  }
  if (problems.length > 0) throw new InvalidSagaDefinitionError(definition.name, problems);
  return definition;
}

/** The saga's own event types (published through its outbox), by role. */
export const sagaEventTypes = (name: string) =>
  ({
    /** Sent to the saga's queue to start an instance. */
    requested: `${name}.requested`,
    /** Sent to the saga's queue by itself, delayed: a step's time is up. */
    timerElapsed: `${name}.timer.elapsed`,
    started: `${name}.started`,
    stepCompleted: `${name}.step.completed`,
    /** A step had no answer in time: its command was sent again (attempt + 1). */
    stepRetried: `${name}.step.retried`,
    stepFailed: `${name}.step.failed`,
    stepCompensated: `${name}.step.compensated`,
    compensationFailed: `${name}.compensation.failed`,
    compensationRetried: `${name}.compensation.retried`,
    completed: `${name}.completed`,
    compensated: `${name}.compensated`,
    failed: `${name}.failed`,
  }) as const;

const ownEventTypes = (name: string): string[] => Object.values(sagaEventTypes(name));

/** What the infrastructure needs of a definition (whatever its input type): its name and the event types of its steps. */
export interface SagaOutline {
  readonly name: string;
  readonly steps: readonly {
    readonly completedBy: string;
    readonly failedBy: readonly string[];
    readonly compensate?: { readonly completedBy: string; readonly failedBy?: readonly string[] };
  }[];
}

/** Every event type of other services the saga waits for (for the bus rule that feeds it). */
export function stepEventTypes(definition: SagaOutline): string[] {
  const types = definition.steps.flatMap((step) => [step.completedBy, ...step.failedBy, ...(step.compensate ? [step.compensate.completedBy, ...(step.compensate.failedBy ?? [])] : [])]);
  return [...new Set(types)];
}
