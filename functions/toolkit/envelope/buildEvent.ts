import { EventEnvelopeSchema, type EventEnvelope } from './EventEnvelope';
import { InvalidEnvelopeError } from './errors';

export interface BuildEventInput<T> {
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly subject: string;
  /** The aggregate version this event produces. */
  readonly sequence: number;
  /** Commit time. */
  readonly time: Date;
  readonly traceparent: string;
  readonly data: T;
  /** @default 1 */
  readonly dataversion?: number;
  readonly dataschema?: string;
  /** @default subject */
  readonly partitionkey?: string;
}

/** Builds a valid envelope or throws `InvalidEnvelopeError` listing every problem. Pure. */
export function buildEvent<T>(input: BuildEventInput<T>): EventEnvelope<T> {
  const candidate = {
    specversion: '1.0',
    id: input.id,
    source: input.source,
    type: input.type,
    subject: input.subject,
    time: input.time.toISOString(),
    datacontenttype: 'application/json',
    ...(input.dataschema === undefined ? {} : { dataschema: input.dataschema }),
    dataversion: input.dataversion ?? 1,
    partitionkey: input.partitionkey ?? input.subject,
    sequence: Number.isSafeInteger(input.sequence) ? String(input.sequence) : 'not-an-integer',
    traceparent: input.traceparent,
    data: input.data,
  };
  const result = EventEnvelopeSchema.safeParse(candidate);
  if (!result.success) {
    throw new InvalidEnvelopeError(
      result.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`),
      input.id,
    );
  }
  return { ...result.data, data: input.data };
}
