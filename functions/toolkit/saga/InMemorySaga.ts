import { AlreadyAppliedError } from '../inbox/errors';
import { ConcurrencyError } from '../outbox/errors';
import type { NewEvent } from '../outbox/planCommit';
import type { OutgoingCommand, SagaState, SagaTimer } from './advance';
import type { LoadedSaga, SagaMessenger, SagaStore, SaveOptions } from './ports';

/** Saga instances in a map, with the same version rule as the DynamoDB store (unit tests, local tools). */
export class InMemorySagaStore<I> implements SagaStore<I> {
  readonly instances = new Map<string, LoadedSaga<I>>();
  readonly events: NewEvent[] = [];
  /** Inputs applied with an inbox claim (message ids), as the inbox items would say. */
  readonly applied = new Set<string>();

  async load(sagaId: string): Promise<LoadedSaga<I> | undefined> {
    return this.instances.get(sagaId);
  }

  async save(state: SagaState<I>, expectedVersion: number, events: readonly NewEvent[], options: SaveOptions = {}): Promise<void> {
    if (options.inbox && this.applied.has(options.inbox.messageId)) throw new AlreadyAppliedError(options.inbox.messageId);
    const current = this.instances.get(state.sagaId)?.version ?? 0;
    if (current !== expectedVersion) throw new ConcurrencyError(state.sagaId, expectedVersion, current === 0 ? undefined : current);
    if (options.inbox) this.applied.add(options.inbox.messageId);
    this.instances.set(state.sagaId, { state, version: current + events.length });
    this.events.push(...events);
  }
}

/** Records what would be sent. */
export class InMemorySagaMessenger implements SagaMessenger {
  readonly commands: OutgoingCommand[] = [];
  readonly timers: SagaTimer[] = [];

  async sendCommand(command: OutgoingCommand): Promise<void> {
    this.commands.push(command);
  }

  async schedule(_saga: string, timer: SagaTimer): Promise<void> {
    this.timers.push(timer);
  }
}
