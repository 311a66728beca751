import * as z from 'zod';

/** What the connection routes read of an API Gateway WebSocket (Lambda proxy) event. */
export const WebSocketEventSchema = z.object({
  requestContext: z.object({
    eventType: z.enum(['CONNECT', 'DISCONNECT', 'MESSAGE']),
    connectionId: z.string().min(1),
    /** Epoch milliseconds. */
    connectedAt: z.number().int().positive().optional(),
  }),
});
export type WebSocketEvent = z.infer<typeof WebSocketEventSchema>;

/** A route's answer (no body: on AWS it would reach the client only on a two-way route). */
export interface WebSocketResponse {
  readonly statusCode: number;
}
