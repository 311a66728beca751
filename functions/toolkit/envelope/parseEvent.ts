import { EventEnvelopeSchema, type EventEnvelope } from './EventEnvelope';
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
    const id = typeof value === 'object' && value !== null && 'id' in value ? String((value as { id: unknown }).id) : undefined;
    throw new InvalidEnvelopeError(
      result.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`),
      id,
    );
  }
  return result.data as EventEnvelope;
}
