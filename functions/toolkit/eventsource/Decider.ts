import type * as z from 'zod';

/** A domain event as a decider sees it: its type and its data, at the type's latest schema version. */
export interface DomainEvent<T extends string = string, D = unknown> {
  readonly type: T;
  readonly data: D;
}

/**
 * An event a decider emits: a domain event, optionally with the schema version its data follows
 * (`dataversion`, default 1) and the person its personal fields are about (`dataSubject`, default
 * the stream id). Its partition key is always the stream id: a stream's events are one log.
 */
export type Emitted<E extends DomainEvent> = E & {
  readonly dataversion?: number;
  readonly dataschema?: string;
  readonly dataSubject?: string;
};

/**
 * An event-sourced aggregate as three pure functions (the "decider" pattern): no SDK, no clock, no
 * random ids — time and ids arrive in the command.
 *
 * - `initialState`: the state of a stream with no events;
 * - `evolve(state, event)`: the state after one event (must not mutate `state`);
 * - `decide(command, state)`: the events the command produces, or a thrown `DomainRejection` when
 *   it is not allowed. An empty list means "nothing to do" and writes nothing.
 */
export interface Decider<C, S, E extends DomainEvent> {
  readonly initialState: S;
  readonly evolve: (state: S, event: E) => S;
  readonly decide: (command: C, state: S) => readonly Emitted<E>[];
}

/** The zod schema of each event type's data, at its latest version: what loads and appends are checked against. */
export type EventSchemas<E extends DomainEvent> = { readonly [K in E['type']]: z.ZodType<Extract<E, { type: K }>['data']> };

/**
 * Lifts an event's data from the version it was written in to the type's latest version (identity
 * when it is the latest). A schema registry's upcasters plug in here.
 */
export type Upcast = (type: string, dataversion: number, data: unknown) => unknown;

/** Leaves every event as it was written. */
export const noUpcast: Upcast = (_type, _dataversion, data) => data;
