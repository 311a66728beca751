import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { defineConsumer } from '../../toolkit/consumer';
import { PersonalDataSealer } from '../../toolkit/privacy/PersonalDataSealer';
import { SubjectErasedData } from '../../toolkit/privacy/erase';
import { SUBJECT_ERASED } from '../../toolkit/privacy/privacyConfig';
import { ORDER_CANCELLED, OrderCancelledSchema } from '../orders/cancelOrder';
import { ORDER_PLACED, OrderPlacedSchema, summarize } from '../orders/placeOrder';
import { outboxFromEnv } from '../../toolkit/outbox/outboxFromEnv';
import { transactWrite } from '../../toolkit/outbox/transactWrite';
import { rememberFacts } from '../shared/rememberFacts';
import { queueKey } from './ticket';
import { instrument } from '../../toolkit/observability';
import type { InboxClaim } from '../../toolkit/inbox';

const dynamodb = instrument(new DynamoDBClient({}));
const { tableName } = outboxFromEnv(dynamodb);

/** The facts, with the event's inbox claim, in one transaction: applied once. */
const remember = (orderId: string, facts: Record<string, string>, inbox: InboxClaim) => transactWrite(dynamodb, [rememberFacts(tableName, queueKey(orderId), facts)], { inbox });

/**
 * The barista's work queue, from the orders service's events (ordered per order). The customer's
 * name is opened to know whether it can be called out; only "known"/"erased" is kept, never the name.
 */
export const handler = defineConsumer({
  events: { [ORDER_PLACED]: OrderPlacedSchema, [ORDER_CANCELLED]: OrderCancelledSchema, [SUBJECT_ERASED]: SubjectErasedData },
  privacy: { sealer: PersonalDataSealer.fromEnvironment({ dynamodb }), onErased: 'redact' },
  handler: async (event, { logger, inbox }) => {
    switch (event.type) {
      case ORDER_PLACED: {
        const customer = event.data.customer === undefined ? 'none' : event.data.customer.name === null ? 'erased' : 'known';
        await remember(event.data.orderId, { summary: summarize(event.data.lines), placedAt: event.data.placedAt, customer }, inbox);
        logger.info('order queued', { orderId: event.data.orderId, customer });
        return;
      }
      case ORDER_CANCELLED:
        await remember(event.data.orderId, { cancelledAt: event.data.cancelledAt }, inbox);
        logger.info('order cancelled', { orderId: event.data.orderId });
        return;
      default:
        // The queue never holds personal data, so there is nothing of the subject's to drop.
        logger.info('subject erased; nothing of theirs is held here', { eventId: event.id });
    }
  },
});
