import * as z from 'zod';

const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$/;

/**
 * An id a client chooses for what it creates (an order, a customer, an account, a transaction, a
 * transfer), so that a retried request is recognised. Such ids become parts of keys — DynamoDB
 * partition and sort keys, event-stream ids, sort-key prefixes, data-key subjects — so every HTTP
 * route accepts them in this one shape only: 3–64 letters, digits, "-" or "_", starting with a letter
 * or a digit (no "#" or "/" a key could be split on, nothing like "__proto__").
 */
export const ClientId = z.string().regex(CLIENT_ID, 'must be 3–64 letters, digits, "-" or "_"');

/** Whether `id` has the shape of a `ClientId` (the same pattern, without zod: for a decider's hot path). */
export const isClientId = (id: string): boolean => CLIENT_ID.test(id);
