import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { parseConfig } from '../../toolkit/config/parseConfig';
import { defineConsumer } from '../../toolkit/consumer';
import { ORDER_PLACED, OrderPlacedSchema } from '../orders/placeOrder';
import { DeliveryLog } from './DeliveryLog';
import { DELIVERY_ENV, DeliveryConfigSchema } from './deliveryConfig';

const config = parseConfig(DeliveryConfigSchema.extend({ [DELIVERY_ENV.path]: z.enum(['ordered', 'fanout']) }));
const log = new DeliveryLog(new DynamoDBClient({}), config[DELIVERY_ENV.tableName]);

/** The demo's consumer: records each order event as it arrives on its path, for `npm start` to show. */
export const handler = defineConsumer({
  events: { [ORDER_PLACED]: OrderPlacedSchema },
  handler: async (event, { logger }) => {
    const delivery = await log.record(config[DELIVERY_ENV.path], event, new Date());
    logger.info('event delivered', { path: delivery.path, id: delivery.id, type: delivery.type, sequence: delivery.sequence, arrival: delivery.arrival });
  },
});
