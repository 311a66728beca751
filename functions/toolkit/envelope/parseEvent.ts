import { EventEnvelopeSchema, UUID_V7, type EventEnvelope } from './EventEnvelope';
import { InvalidEnvelopeError } from './errors';

/**
 * Parses a JSON string or an object into an envelope; throws `InvalidEnvelopeError` (poison) with
 * every problem named. Never includes payload values in the message.
 */
export function parseEvent(input: unknown): EventEnvelope {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (cause) {
      throw new InvalidEnvelopeError(['body is not valid JSON'], undefined, { cause });
    }
  }
  const result = EventEnvelopeSchema.safeParse(value);
  if (!result.success) {
    // Name the event only by a well-formed id: anything else sent as `id` must not reach the logs.
    const rawId = typeof value === 'object' && value !== null ? (value as { id?: unknown }).id : undefined;
    const id = typeof rawId === 'string' && UUID_V7.test(rawId) ? rawId : undefined;
    throw new InvalidEnvelopeError(
      result.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`),
      id,
    );
  }
  return result.data as EventEnvelope;
}
