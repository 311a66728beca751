import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { httpApi, json, pathParameter } from '../../toolkit/http/httpApi';
import { readAggregate } from '../../toolkit/outbox';
import { OrderIdSchema } from '../orders/placeOrder';
import { commitDecision } from '../shared/commitDecision';
import { outboxFromEnv } from '../../toolkit/outbox/outboxFromEnv';
import { finishBrew, queueKey, startBrew, ticketKey, type QueuedOrder, type Ticket } from './ticket';
import { instrument } from '../../toolkit/observability';
import { parseConfig } from '../../toolkit/config/parseConfig';
import { orderKey } from '../orders/placeOrder';
import { ARBITER_ENV, BaristaArbiterConfigSchema } from '../shared/arbiterConfig';
import { COFFEE_ACCESS } from '../access';

const logger = new Logger({ serviceName: 'coffee-barista' });
const dynamodb = instrument(new DynamoDBClient({}));
const { outbox, tableName } = outboxFromEnv(dynamodb);
const ordersTable = parseConfig(BaristaArbiterConfigSchema)[ARBITER_ENV.ordersTableName];

/** The decision rests on the queue item saying the order was not cancelled: checked again at commit. */
const notCancelled = (orderId: string, reason: string) => ({ key: queueKey(orderId), condition: 'attribute_exists(pk) AND attribute_not_exists(cancelledAt)', reason });
/**
 * A start also checks the order itself in the orders service's table, atomically (see arbiterConfig.ts):
 * a cancel the barista has not heard of yet still wins over a start, or the start over the cancel.
 */
const orderNotCancelled = (orderId: string) => ({
  tableName: ordersTable,
  key: orderKey(orderId),
  condition: 'attribute_exists(pk) AND #status <> :cancelled',
  names: { '#status': 'status' },
  values: { ':cancelled': 'cancelled' },
  reason: `order ${orderId} was cancelled; do not brew it`,
});

async function act(event: APIGatewayProxyEventV2, step: 'start' | 'finish') {
  const orderId = pathParameter(event, 'orderId', OrderIdSchema);
  const [queued, ticket] = await Promise.all([readAggregate<QueuedOrder>(dynamodb, tableName, queueKey(orderId)), readAggregate<Ticket>(dynamodb, tableName, ticketKey(orderId))]);
  const decide = step === 'start' ? startBrew : finishBrew;
  const decision = decide(orderId, queued?.state, ticket?.state, new Date());
  const reason = step === 'start' ? `order ${orderId} was cancelled; do not brew it` : `order ${orderId} was cancelled while brewing; discard the drink`;
  const guards = step === 'start' ? [notCancelled(orderId, reason), orderNotCancelled(orderId)] : [notCancelled(orderId, reason)];
  const state = await commitDecision(outbox, { id: orderId, key: ticketKey(orderId), expectedVersion: ticket?.version ?? 0 }, decision, guards);
  logger.info(`brew ${step}`, { orderId });
  return json(200, { orderId, ...state });
}

/** The barista's HTTP API (their tablet): start and finish a drink. */
export const handler = httpApi(
  {
    'POST /barista/orders/{orderId}/start': (event) => act(event, 'start'),
    'POST /barista/orders/{orderId}/finish': (event) => act(event, 'finish'),
  },
  { access: COFFEE_ACCESS, logger },
);
