import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import * as z from 'zod';
import { Outbox } from '../outbox/Outbox';
import type { NewEvent } from '../outbox/planCommit';
import { readAggregate } from '../outbox/readAggregate';
import type { SagaState } from './advance';
import type { LoadedSaga, SagaStore, SaveOptions } from './ports';

const Phase = z.enum(['forward', 'compensation']);
const Command = z.object({
  commandId: z.string(),
  saga: z.string(),
  sagaId: z.string(),
  step: z.string(),
  phase: Phase,
  attempt: z.number(),
  target: z.string(),
  type: z.string(),
  data: z.record(z.string(), z.unknown()),
});
const Timer = z.object({ sagaId: z.string(), step: z.string(), phase: Phase, attempt: z.number(), dueAt: z.number(), delaySeconds: z.number() });

/** A saga instance item as read back (zod at the boundary: the table is shared with the outbox's events). */
export const SagaStateSchema = z.object({
  saga: z.string(),
  sagaId: z.string(),
  input: z.unknown(),
  status: z.enum(['running', 'compensating', 'completed', 'compensated', 'failed']),
  waiting: z.object({ step: z.string(), phase: Phase, attempt: z.number(), sent: z.boolean(), dueAt: z.number() }).optional(),
  completedSteps: z.array(z.string()),
  pendingCompensations: z.array(z.string()),
  results: z.record(z.string(), z.unknown()),
  failure: z.object({ step: z.string(), reason: z.enum(['refused', 'timed-out']), eventType: z.string().optional() }).optional(),
  lastInputId: z.string(),
  effects: z.object({ commands: z.array(Command), timers: z.array(Timer) }),
  startedAt: z.string(),
  updatedAt: z.string(),
});

/** Key of a saga instance's item in the saga's outbox table. */
export const sagaKey = (sagaId: string): { pk: string; sk: string } => ({ pk: `SAGA#${sagaId}`, sk: 'STATE' });

/**
 * Saga instances as aggregates of the saga's transactional outbox: the instance item (version-
 * conditioned) and the saga's own events are written in one transaction, so a caller following the
 * events never sees a state change without its event, or the reverse.
 */
export class DynamoSagaStore<I> implements SagaStore<I> {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly outbox: Outbox,
  ) {}

  async load(sagaId: string): Promise<LoadedSaga<I> | undefined> {
    const loaded = await readAggregate<unknown>(this.client, this.tableName, sagaKey(sagaId));
    if (!loaded) return undefined;
    return { state: SagaStateSchema.parse(loaded.state) as SagaState<I>, version: loaded.version };
  }

  async save(state: SagaState<I>, expectedVersion: number, events: readonly NewEvent[], options: SaveOptions = {}): Promise<void> {
    await this.outbox.commit(
      [{ id: state.sagaId, key: sagaKey(state.sagaId), expectedVersion, state, events: events.map((e) => ({ ...e, partitionkey: state.sagaId })) }],
      { ...(options.traceparent ? { traceparent: options.traceparent } : {}), ...(options.inbox ? { inbox: options.inbox } : {}) },
    );
  }
}
