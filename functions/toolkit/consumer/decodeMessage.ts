import type * as z from 'zod';
import { InvalidEnvelopeError, parseEvent, type EventEnvelope } from '../envelope';
import { PoisonMessageError } from './errors';

/**
 * The event types a consumer handles: type → the zod schema of its `data`, for `dataversion` 1, or
 * `{ version, schema }` for another version, or `{ version, schema, upcast }` to accept every older
 * version too and lift it to `version` first (a schema registry's `consumerSchemas()` builds these).
 */
export type EventSchemas = Readonly<
  Record<string, z.ZodType | { readonly version: number; readonly schema: z.ZodType; readonly upcast?: (fromVersion: number, data: unknown) => unknown }>
>;

type DataOf<S> = S extends { schema: infer Z extends z.ZodType } ? z.infer<Z> : S extends z.ZodType ? z.infer<S> : never;

/** The events a consumer of `S` receives: a union discriminated by `type`, `data` parsed. */
export type ConsumedEvent<S extends EventSchemas> = { [K in keyof S & string]: EventEnvelope<DataOf<S[K]>> & { type: K } }[keyof S & string];

export interface DecodeOptions {
  /**
   * The sources the consumer subscribes to (`CONSUMER_EVENT_SOURCES`, set by `EventConsumer`): an
   * event from any other is poison, however it reached the queue. @default any source
   */
  readonly sources?: readonly string[];
}

/**
 * Reads an SQS message body into a validated event: the envelope itself (ordered path, FIFO body) or
 * inside an EventBridge event's `detail` (fan-out path). Anything that does not fit is poison. Pure.
 */
export function decodeMessage<S extends EventSchemas>(body: string, schemas: S, options: DecodeOptions = {}): ConsumedEvent<S> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (cause) {
    throw new PoisonMessageError('message body is not valid JSON', undefined, { cause });
  }
  const candidate = isEventBridgeEvent(parsed) ? parsed.detail : parsed;
  let envelope: EventEnvelope;
  try {
    envelope = parseEvent(candidate);
  } catch (error) {
    if (error instanceof InvalidEnvelopeError) throw new PoisonMessageError(error.message, error.eventId, { cause: error });
    throw error;
  }
  // The bus's source is the one the putting relay's policy allows (`events:source`); the envelope's
  // must be the same, or a function allowed to put one service's events could pass off another's.
  if (isEventBridgeEvent(parsed) && parsed.source !== envelope.source) {
    throw new PoisonMessageError(`event ${envelope.type} ${envelope.id} was put on the bus with source ${String(parsed.source)}, but the event says ${envelope.source}: forged or misrouted`, envelope.id);
  }
  if (options.sources && !options.sources.includes(envelope.source)) {
    throw new PoisonMessageError(`event ${envelope.type} ${envelope.id} is from source ${envelope.source}, which this consumer does not subscribe to (it takes ${options.sources.join(', ')})`, envelope.id);
  }
  const entry = schemas[envelope.type];
  if (entry === undefined) {
    throw new PoisonMessageError(`event type ${envelope.type} is not handled by this consumer (handles: ${Object.keys(schemas).join(', ')})`, envelope.id);
  }
  const { version, schema, upcast } = 'schema' in entry ? entry : { version: 1, schema: entry, upcast: undefined };
  let raw = envelope.data;
  if (envelope.dataversion !== version) {
    if (upcast === undefined || envelope.dataversion > version) {
      throw new PoisonMessageError(`event ${envelope.type} has dataversion ${envelope.dataversion}, this consumer reads version ${version}`, envelope.id);
    }
    try {
      raw = upcast(envelope.dataversion, envelope.data);
    } catch (error) {
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : 'upcaster failed';
      throw new PoisonMessageError(`event ${envelope.type} ${envelope.id} could not be upcast from version ${envelope.dataversion} to ${version}: ${reason}`, envelope.id, { cause: error });
    }
  }
  const data = (schema as z.ZodType).safeParse(raw);
  if (!data.success) {
    const problems = data.error.issues.map((i) => `data.${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new PoisonMessageError(`event ${envelope.type} ${envelope.id} does not match its schema: ${problems}`, envelope.id);
  }
  // Upcast data follows `version` now, and the envelope says so.
  return { ...envelope, dataversion: version, data: data.data } as ConsumedEvent<S>;
}

function isEventBridgeEvent(value: unknown): value is { detail: unknown; source?: unknown } {
  return typeof value === 'object' && value !== null && 'detail-type' in value && 'detail' in value;
}
