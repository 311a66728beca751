import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { httpApi, HttpError, json, jsonBody, pathParameter, validated } from '../../toolkit/http/httpApi';
import { ConcurrencyError, GuardFailedError, readAggregate } from '../../toolkit/outbox';
import { PersonalDataSealer } from '../../toolkit/privacy/PersonalDataSealer';
import { sealPersonalFields } from '../../toolkit/privacy/personal';
import { outboxFromEnv } from '../../toolkit/outbox/outboxFromEnv';
import { brewingKey, cancelOrder } from './cancelOrder';
import { CustomerSchema, OrderIdSchema, orderKey, placeOrder, PlaceOrderSchema, type Customer, type OrderState } from './placeOrder';
import { instrument } from '../../toolkit/observability';

const logger = new Logger({ serviceName: 'coffee-orders' });
const dynamodb = instrument(new DynamoDBClient({}));
const sealer = PersonalDataSealer.fromEnvironment({ dynamodb });
const { outbox, tableName } = outboxFromEnv(dynamodb);

/** The orders service's HTTP API: place and cancel orders. */
export const handler = httpApi(
  {
    'POST /orders': async (event) => {
      const command = validated(PlaceOrderSchema, jsonBody(event));
      // Sealed before anything else sees it: the customer's plaintext never reaches a table, event or log.
      const customer: Customer | undefined = command.customer && (await sealPersonalFields(CustomerSchema, command.customer, command.customer.customerId, sealer));
      const { state, events } = placeOrder(command, new Date(), customer);
      try {
        await outbox.commit([{ id: command.orderId, key: orderKey(command.orderId), expectedVersion: 0, state, events }]);
      } catch (error) {
        if (error instanceof ConcurrencyError) throw new HttpError(409, 'OrderAlreadyPlaced', `order ${command.orderId} was already placed`);
        throw error;
      }
      logger.info('order placed', { orderId: command.orderId });
      return json(201, { orderId: command.orderId, status: 'placed', totalCents: state.totalCents });
    },

    'POST /orders/{orderId}/cancel': async (event) => {
      const orderId = pathParameter(event, 'orderId', OrderIdSchema);
      const order = await readAggregate<OrderState>(dynamodb, tableName, orderKey(orderId));
      const decision = cancelOrder(orderId, order?.state, new Date());
      if (decision.kind === 'rejected') throw new HttpError(decision.error === 'OrderNotFound' ? 404 : 409, decision.error, decision.message);
      try {
        await outbox.commit([{ id: orderId, key: orderKey(orderId), expectedVersion: order!.version, state: decision.state, events: decision.events }], {
          // One winner when a cancel races the barista: the cancel commits only if the start has not been recorded.
          guards: [{ key: brewingKey(orderId), condition: 'attribute_not_exists(pk)', reason: `order ${orderId} is already being brewed` }],
        });
      } catch (error) {
        if (error instanceof GuardFailedError) throw new HttpError(409, 'OrderNotCancellable', error.reason);
        if (error instanceof ConcurrencyError) throw new HttpError(409, 'OrderNotCancellable', `order ${orderId} changed meanwhile; try again`);
        throw error;
      }
      logger.info('order cancelled', { orderId });
      return json(200, { orderId, status: 'cancelled' });
    },
  },
  logger,
);
