import * as z from 'zod';
import type { EventSchemas } from '../consumer/decodeMessage';
import { buildEvent, newEventId, newTraceparent, type EventEnvelope } from '../envelope';
import type { OutgoingCommand, SagaInput, SagaTimer } from './advance';
import { sagaEventTypes, stepEventTypes, type SagaDefinition } from './defineSaga';
import { InvalidSagaMessageError } from './errors';

const Phase = z.enum(['forward', 'compensation']);

/**
 * A saga's command as it travels on the target's command queue. `commandId` is the same each time
 * the same attempt is sent: the target applies a command id once (and must also refuse a step whose
 * compensation it has already applied, since a command may arrive after its step timed out).
 */
export const SagaCommandMessageSchema = z
  .object({
    kind: z.literal('saga.command'),
    commandId: z.string().min(1),
    saga: z.string().min(1),
    sagaId: z.string().min(1),
    step: z.string().min(1),
    phase: Phase,
    attempt: z.number().int().positive(),
    type: z.string().min(1),
    data: z.record(z.string(), z.unknown()),
    sentAt: z.iso.datetime({ offset: true }),
    traceparent: z.string().optional(),
  })
  .strict();
export type SagaCommandMessage = z.infer<typeof SagaCommandMessageSchema>;

export function toCommandMessage(command: OutgoingCommand, now: Date, traceparent?: string): SagaCommandMessage {
  const { target: _target, ...rest } = command;
  return { kind: 'saga.command', ...rest, data: { ...command.data }, sentAt: now.toISOString(), ...(traceparent ? { traceparent } : {}) };
}

/** Command type → zod schema of its `data`: what a target service accepts from sagas. */
export type CommandSchemas = Readonly<Record<string, z.ZodType>>;

export type CommandOf<S extends CommandSchemas> = { [K in keyof S & string]: Omit<SagaCommandMessage, 'type' | 'data'> & { type: K; data: z.infer<S[K]> } }[keyof S & string];

/**
 * For a target service: reads a command message body, validated, with `data` parsed by its type's
 * schema. Anything else throws `InvalidSagaMessageError` (poison: retrying cannot fix it). Pure.
 */
export function decodeSagaCommand<S extends CommandSchemas>(body: string, schemas: S): CommandOf<S> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new InvalidSagaMessageError('command body is not valid JSON');
  }
  const message = SagaCommandMessageSchema.safeParse(json);
  if (!message.success) throw new InvalidSagaMessageError(`not a saga command: ${message.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const schema = schemas[message.data.type];
  if (!schema) throw new InvalidSagaMessageError(`command type ${message.data.type} is not handled here (handles: ${Object.keys(schemas).join(', ')})`, message.data.sagaId);
  const data = schema.safeParse(message.data.data);
  if (!data.success) throw new InvalidSagaMessageError(`command ${message.data.commandId} does not match its schema: ${data.error.issues.map((i) => `data.${i.path.join('.')}: ${i.message}`).join('; ')}`, message.data.sagaId);
  return { ...message.data, data: data.data } as CommandOf<S>;
}

const TimerData = z.object({ sagaId: z.string().min(1), step: z.string().min(1), phase: Phase, attempt: z.number().int().positive(), dueAt: z.number().int() }).strict();

/** What the saga's queue accepts: requests to start, its own timers, and the steps' events. */
export function sagaQueueSchemas<I>(definition: SagaDefinition<I>): EventSchemas {
  const own = sagaEventTypes(definition.name);
  const stepEvent = z.looseObject({ [definition.correlateBy]: z.string().min(1) });
  return {
    [own.requested]: z.object({ sagaId: definition.sagaId ?? z.string().min(1), input: definition.input }).strict(),
    [own.timerElapsed]: TimerData,
    ...Object.fromEntries(stepEventTypes(definition).map((type) => [type, stepEvent])),
  };
}

/** The saga input an event of its queue stands for (after `decodeMessage` with `sagaQueueSchemas`). Pure. */
export function toSagaInput<I>(definition: SagaDefinition<I>, event: Pick<EventEnvelope, 'id' | 'type' | 'data'>, at: Date): SagaInput<I> {
  const own = sagaEventTypes(definition.name);
  const data = event.data as Record<string, unknown>;
  if (event.type === own.requested) return { kind: 'start', id: event.id, sagaId: String(data.sagaId), input: data.input as I, at };
  if (event.type === own.timerElapsed) {
    const timer = TimerData.parse(data);
    return { kind: 'timeout', id: event.id, ...timer, at };
  }
  const sagaId = data[definition.correlateBy];
  if (typeof sagaId !== 'string' || sagaId === '') throw new InvalidSagaMessageError(`event ${event.type} ${event.id} has no ${definition.correlateBy}`);
  return { kind: 'event', id: event.id, sagaId, type: event.type, data, at };
}

/** The envelope of a timer, sent (delayed) to the saga's own queue. */
export const timerEnvelope = (saga: string, timer: SagaTimer, now: Date, traceparent = newTraceparent()): EventEnvelope =>
  buildEvent({
    id: newEventId(),
    source: saga,
    type: sagaEventTypes(saga).timerElapsed,
    subject: timer.sagaId,
    sequence: timer.attempt,
    time: now,
    traceparent,
    data: { sagaId: timer.sagaId, step: timer.step, phase: timer.phase, attempt: timer.attempt, dueAt: timer.dueAt },
  });

/** The envelope of a request to start a saga instance, sent to the saga's queue. */
export const requestEnvelope = <I>(saga: string, sagaId: string, input: I, now: Date, traceparent = newTraceparent()): EventEnvelope =>
  buildEvent({ id: newEventId(), source: saga, type: sagaEventTypes(saga).requested, subject: sagaId, sequence: 1, time: now, traceparent, data: { sagaId, input } });
