import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { httpApi, json, pathParameter } from '../../toolkit/http/httpApi';
import { readAggregate } from '../../toolkit/outbox';
import { OrderIdSchema } from '../orders/placeOrder';
import { commitDecision } from '../shared/commitDecision';
import { outboxFromEnv } from '../../toolkit/outbox/outboxFromEnv';
import { pickupKey, serveOrder, servedKey, type Pickup, type Service } from './pickup';
import { instrument } from '../../toolkit/observability';
import { COFFEE_ACCESS } from '../access';

const logger = new Logger({ serviceName: 'coffee-counter' });
const dynamodb = instrument(new DynamoDBClient({}));
const { outbox, tableName } = outboxFromEnv(dynamodb);

/** The counter's HTTP API: hand a finished drink over. */
export const handler = httpApi(
  {
    'POST /counter/orders/{orderId}/serve': async (event) => {
      const orderId = pathParameter(event, 'orderId', OrderIdSchema);
      const [pickup, served] = await Promise.all([readAggregate<Pickup>(dynamodb, tableName, pickupKey(orderId)), readAggregate<Service>(dynamodb, tableName, servedKey(orderId))]);
      const state = await commitDecision(outbox, { id: orderId, key: servedKey(orderId), expectedVersion: served?.version ?? 0 }, serveOrder(orderId, pickup?.state, served?.state, new Date()), [
        { key: pickupKey(orderId), condition: 'attribute_exists(readyAt) AND attribute_not_exists(cancelledAt)', reason: `order ${orderId} was cancelled; do not hand it over` },
      ]);
      logger.info('order served', { orderId });
      return json(200, { orderId, ...state });
    },
  },
  { access: COFFEE_ACCESS, logger },
);
