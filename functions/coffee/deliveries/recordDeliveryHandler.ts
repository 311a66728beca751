import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { parseConfig } from '../../toolkit/config/parseConfig';
import { defineConsumer } from '../../toolkit/consumer';
import { PersonalDataSealer } from '../../toolkit/privacy/PersonalDataSealer';
import { SubjectErasedData } from '../../toolkit/privacy/erase';
import { SUBJECT_ERASED } from '../../toolkit/privacy/privacyConfig';
import { ORDER_PLACED, OrderPlacedSchema } from '../orders/placeOrder';
import { DeliveryLog } from './DeliveryLog';
import { DELIVERY_ENV, DeliveryConfigSchema } from './deliveryConfig';

const config = parseConfig(DeliveryConfigSchema.extend({ [DELIVERY_ENV.path]: z.enum(['ordered', 'fanout']) }));
const dynamodb = new DynamoDBClient({});
const log = new DeliveryLog(dynamodb, config[DELIVERY_ENV.tableName]);

/**
 * The demo's consumer: records each order event as it arrives on its path, for `npm start` to show —
 * ids, and whether the customer is known or erased; never their personal data.
 */
export const handler = defineConsumer({
  events: { [ORDER_PLACED]: OrderPlacedSchema, [SUBJECT_ERASED]: SubjectErasedData },
  // Personal fields are opened before the handler runs; an erased customer's arrive as null.
  privacy: { sealer: PersonalDataSealer.fromEnvironment({ dynamodb }), onErased: 'redact' },
  handler: async (event, { logger }) => {
    if (event.type === SUBJECT_ERASED) {
      // A read model drops what it holds of the subject; this one never holds personal data.
      logger.info('subject erased; nothing of theirs is held here', { eventId: event.id });
      return;
    }
    const customer = event.data.customer === undefined ? 'none' : event.data.customer.name === null ? 'erased' : 'known';
    const delivery = await log.record(config[DELIVERY_ENV.path], event, new Date(), customer);
    logger.info('event delivered', { path: delivery.path, id: delivery.id, type: delivery.type, sequence: delivery.sequence, arrival: delivery.arrival });
  },
});
