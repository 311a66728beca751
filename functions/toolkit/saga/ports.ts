import type { InboxClaim } from '../inbox/inbox';
import type { NewEvent } from '../outbox/planCommit';
import type { OutgoingCommand, SagaState, SagaTimer } from './advance';

/** A saga instance as loaded: its state and the version to expect when saving. */
export interface LoadedSaga<I> {
  readonly state: SagaState<I>;
  readonly version: number;
}

/** Where saga instances live (DynamoDB on AWS, a map in unit tests). */
export interface SagaStore<I> {
  load(sagaId: string): Promise<LoadedSaga<I> | undefined>;
  /**
   * Saves the new state and the saga's own events in one write, if the instance is still at
   * `expectedVersion` (0: it must not exist); otherwise throws the outbox's `ConcurrencyError`.
   * With `inbox`, the input's inbox item is written too; if it was applied before, nothing is
   * written and `AlreadyAppliedError` is thrown.
   */
  save(state: SagaState<I>, expectedVersion: number, events: readonly NewEvent[], options?: SaveOptions): Promise<void>;
}

export interface SaveOptions {
  readonly traceparent?: string;
  /** The claim on the input being applied (the saga consumer's `ConsumerContext.inbox`). */
  readonly inbox?: InboxClaim;
}

/** Sends what a transition decided, after it is saved: commands to their targets, timers to the saga itself. */
export interface SagaMessenger {
  sendCommand(command: OutgoingCommand, traceparent?: string): Promise<void>;
  schedule(saga: string, timer: SagaTimer, traceparent?: string): Promise<void>;
}
