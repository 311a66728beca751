import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { httpApi, HttpError, json, jsonBody, pathParameter, validated } from '../../toolkit/http/httpApi';
import { ConcurrencyError, GuardFailedError, readAggregate } from '../../toolkit/outbox';
import { PersonalDataSealer } from '../../toolkit/privacy/PersonalDataSealer';
import { openPersonalFields, sealPersonalFields } from '../../toolkit/privacy/personal';
import { outboxFromEnv } from '../../toolkit/outbox/outboxFromEnv';
import { brewingKey, cancelOrder } from './cancelOrder';
import { parseConfig } from '../../toolkit/config/parseConfig';
import { ARBITER_ENV, OrdersArbiterConfigSchema } from '../shared/arbiterConfig';
import { ticketKey } from '../barista/ticket';
import { CustomerSchema, OrderIdSchema, orderKey, placedBy, placeOrder, placeOrderAgain, PlaceOrderSchema, type Customer, type OrderState, type PlaceOrder } from './placeOrder';
import { COFFEE_ACCESS } from '../access';
import type { Caller } from '../../toolkit/http/access';
import { instrument } from '../../toolkit/observability';

const logger = new Logger({ serviceName: 'coffee-orders' });
const dynamodb = instrument(new DynamoDBClient({}));
const sealer = PersonalDataSealer.fromEnvironment({ dynamodb });
const { outbox, tableName } = outboxFromEnv(dynamodb);
const baristaTable = parseConfig(OrdersArbiterConfigSchema)[ARBITER_ENV.baristaTableName];

const placed = (orderId: string, totalCents: number) => json(201, { orderId, status: 'placed', totalCents });

/** The order id is taken: a retry of the same request is answered as the first time, anything else is a 409. */
async function placedBefore(command: PlaceOrder, caller: Caller, conflict: ConcurrencyError) {
  const existing = await readAggregate<OrderState>(dynamodb, tableName, orderKey(command.orderId));
  if (!existing) throw conflict;
  // Another customer's order id: refused as any other reuse of an id, and nothing of that order is told.
  if (!placedBy(existing.state, caller.sub)) throw new HttpError(409, 'OrderIdReused', `order id ${command.orderId} was already used for another request; a new order needs a new id`);
  // The stored customer's name and email are opened in memory only, to be compared (placeOrderAgain).
  const stored = existing.state.customer && (await openPersonalFields(CustomerSchema, existing.state.customer, sealer, { onErased: 'redact' }));
  const answer = placeOrderAgain(command, existing.state, stored);
  if (answer.kind === 'rejected') throw new HttpError(409, answer.error, answer.message);
  logger.info('order placed again (a retry)', { orderId: command.orderId });
  return placed(command.orderId, answer.totalCents);
}

/** The orders service's HTTP API: place and cancel orders. */
export const handler = httpApi(
  {
    'POST /orders': async (event, caller) => {
      const command = validated(PlaceOrderSchema, jsonBody(event));
      // Sealed before anything else sees it: the customer's plaintext never reaches a table, event or log.
      const customer: Customer | undefined = command.customer && (await sealPersonalFields(CustomerSchema, command.customer, command.customer.customerId, sealer));
      const decision = placeOrder(command, new Date(), customer);
      const state: OrderState = { ...decision.state, placedBy: caller.sub };
      const { events } = decision;
      try {
        await outbox.commit([{ id: command.orderId, key: orderKey(command.orderId), expectedVersion: 0, state, events }]);
      } catch (error) {
        if (error instanceof ConcurrencyError) return placedBefore(command, caller, error);
        throw error;
      }
      logger.info('order placed', { orderId: command.orderId });
      return placed(command.orderId, state.totalCents);
    },

    'POST /orders/{orderId}/cancel': async (event, caller) => {
      const orderId = pathParameter(event, 'orderId', OrderIdSchema);
      const stored = await readAggregate<OrderState>(dynamodb, tableName, orderKey(orderId));
      // Someone else's order is answered as one that does not exist: the caller learns nothing of it.
      const order = stored && placedBy(stored.state, caller.sub) ? stored : undefined;
      const decision = cancelOrder(orderId, order?.state, new Date());
      if (decision.kind === 'rejected') throw new HttpError(decision.error === 'OrderNotFound' ? 404 : 409, decision.error, decision.message);
      try {
        await outbox.commit([{ id: orderId, key: orderKey(orderId), expectedVersion: order!.version, state: decision.state, events: decision.events }], {
          // One winner when a cancel races the barista: the cancel commits only if the barista has no
          // ticket (checked in the barista's own table, atomically: see arbiterConfig.ts) and no start was recorded here.
          guards: [
            { tableName: baristaTable, key: ticketKey(orderId), condition: 'attribute_not_exists(pk)', reason: `order ${orderId} is already being brewed` },
            { key: brewingKey(orderId), condition: 'attribute_not_exists(pk)', reason: `order ${orderId} is already being brewed` },
          ],
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
  { access: COFFEE_ACCESS, logger },
);
