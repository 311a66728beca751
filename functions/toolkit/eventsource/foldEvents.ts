import type * as z from 'zod';
import type { EventEnvelope } from '../envelope';
import type { DomainEvent, EventSchemas, Upcast } from './Decider';
import { CorruptStreamError, InvalidEventError } from './errors';

/** What a fold needs of a stream's definition. */
export interface FoldDefinition<S, E extends DomainEvent> {
  readonly evolve: (state: S, event: E) => S;
  readonly events: EventSchemas<E>;
  readonly upcast: Upcast;
}

/**
 * An event's data as the decider sees it: upcast from the version it was written in to the latest,
 * then checked against the type's schema. Throws `InvalidEventError` naming the problems' paths.
 */
export function toDomainEvent<E extends DomainEvent>(
  streamId: string,
  event: { readonly type: string; readonly dataversion?: number; readonly data: unknown },
  schemas: EventSchemas<E>,
  upcast: Upcast,
  sequence?: number,
): E {
  const schema = Object.hasOwn(schemas, event.type) ? (schemas as Readonly<Record<string, z.ZodType>>)[event.type] : undefined;
  if (schema === undefined) {
    throw new InvalidEventError(streamId, event.type, ['no schema for this type'], sequence);
  }
  const parsed = schema.safeParse(upcast(event.type, event.dataversion ?? 1, event.data));
  if (!parsed.success) {
    throw new InvalidEventError(streamId, event.type, parsed.error.issues.map((issue) => `${issue.path.join('.') || '(data)'}: ${issue.message}`), sequence);
  }
  // The schema is the one of `event.type`, so the pair is the member of E with that type.
  return { type: event.type, data: parsed.data } as E;
}

/**
 * Folds logged events into the state at `from` (version `after`). The events must continue the
 * stream exactly: sequences after+1, after+2, … of subject `streamId`; anything else throws
 * `CorruptStreamError` rather than give a wrong state.
 */
export function foldEvents<S, E extends DomainEvent>(
  definition: FoldDefinition<S, E>,
  streamId: string,
  from: { readonly state: S; readonly version: number },
  events: readonly EventEnvelope[],
): { state: S; version: number } {
  let { state, version } = from;
  for (const envelope of events) {
    const sequence = Number(envelope.sequence);
    const problems: string[] = [];
    if (envelope.subject !== streamId) problems.push(`event ${envelope.id} belongs to another stream`);
    if (sequence !== version + 1) problems.push(`expected sequence ${version + 1}, found ${sequence}`);
    if (problems.length > 0) throw new CorruptStreamError(streamId, problems);
    state = definition.evolve(state, toDomainEvent(streamId, envelope, definition.events, definition.upcast, sequence));
    version = sequence;
  }
  return { state, version };
}

/**
 * Whether an append from version `from` to `to` reaches or passes a multiple of `every`: then the
 * state at `to` is snapshotted in the same transaction, so a load reads at most `every - 1` events
 * after its snapshot (when appends add one event at a time).
 */
export const snapshotDue = (from: number, to: number, every: number): boolean => Math.floor(to / every) > Math.floor(from / every);
