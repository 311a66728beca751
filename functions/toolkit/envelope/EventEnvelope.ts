import * as z from 'zod';

/** W3C trace context `traceparent`: version-traceid-parentid-flags, lower-case hex. */
export const TRACEPARENT = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

/** UUID v7 (RFC 9562): time-ordered, so ids sort by creation time. */
export const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * CloudEvents 1.0 (JSON structured mode) with the partitioning, sequence and distributed-tracing
 * extensions. `sequence` is the aggregate version that produced the event, as a decimal string so
 * that CloudEvents tools can read it; `sequenceNumber()` gives it back as a number.
 */
export const EventEnvelopeSchema = z
  .object({
    specversion: z.literal('1.0'),
    id: z.string().regex(UUID_V7, 'must be a UUID v7'),
    source: z.string().min(1),
    type: z.string().regex(/^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/, 'must be a dotted, lower-case event name like coffee.order.placed'),
    subject: z.string().min(1),
    time: z.iso.datetime({ offset: true }),
    datacontenttype: z.literal('application/json').default('application/json'),
    dataschema: z.string().min(1).optional(),
    dataversion: z.number().int().positive(),
    partitionkey: z.string().min(1).max(128),
    sequence: z.string().regex(/^[1-9][0-9]*$/, 'must be a positive decimal integer'),
    traceparent: z.string().regex(TRACEPARENT, 'must be a W3C traceparent'),
    data: z.unknown(),
  })
  .strict();

export type EventEnvelope<T = unknown> = Omit<z.infer<typeof EventEnvelopeSchema>, 'data'> & { data: T };

export const sequenceNumber = (event: Pick<EventEnvelope, 'sequence'>): number => Number(event.sequence);
