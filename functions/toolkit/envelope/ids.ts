import { randomBytes } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';

/** A new UUID v7 event id (monotonic within one process). */
export const newEventId = (): string => uuidv7();

/** A new W3C traceparent that starts a trace. */
export const newTraceparent = (): string =>
  `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;

/** A child span of `traceparent`: same trace id, new parent id (for the next hop). */
export const childTraceparent = (traceparent: string): string => {
  const [version, traceId, , flags] = traceparent.split('-');
  return `${version}-${traceId}-${randomBytes(8).toString('hex')}-${flags}`;
};
