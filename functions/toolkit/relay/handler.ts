import { relayHandler } from './relayHandler';

/** The generic outbox relay: DynamoDB stream (outbox INSERTs) → EventBridge bus and ordered FIFO subscribers. */
export const handler = relayHandler();
