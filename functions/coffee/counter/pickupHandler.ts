import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { defineConsumer } from '../../toolkit/consumer';
import { BREW_FINISHED, BrewFinishedSchema } from '../barista/ticket';
import { ORDER_CANCELLED, OrderCancelledSchema } from '../orders/cancelOrder';
import { outboxFromEnv } from '../../toolkit/outbox/outboxFromEnv';
import { transactWrite } from '../../toolkit/outbox/transactWrite';
import { rememberFacts } from '../shared/rememberFacts';
import { pickupKey } from './pickup';
import { instrument } from '../../toolkit/observability';

const dynamodb = instrument(new DynamoDBClient({}));
const { tableName } = outboxFromEnv(dynamodb);

/** The counter learns which drinks are ready (barista) and which orders were cancelled (orders). */
export const handler = defineConsumer({
  events: { [BREW_FINISHED]: BrewFinishedSchema, [ORDER_CANCELLED]: OrderCancelledSchema },
  handler: async (event, { logger, inbox }) => {
    const facts: Record<string, string> = event.type === BREW_FINISHED ? { readyAt: event.data.finishedAt } : { cancelledAt: event.data.cancelledAt };
    await transactWrite(dynamodb, [rememberFacts(tableName, pickupKey(event.data.orderId), facts)], { inbox });
    logger.info('pickup updated', { orderId: event.data.orderId, type: event.type });
  },
});
