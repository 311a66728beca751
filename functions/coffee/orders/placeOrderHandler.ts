import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseConfig } from '../../toolkit/config/parseConfig';
import { ConcurrencyError, Outbox, OUTBOX_ENV, OutboxConfigSchema } from '../../toolkit/outbox';
import { orderKey, placeOrder, PlaceOrderSchema } from './placeOrder';

const config = parseConfig(OutboxConfigSchema);
const logger = new Logger({ serviceName: 'coffee-orders' });
const outbox = new Outbox({
  client: new DynamoDBClient({}),
  tableName: config[OUTBOX_ENV.tableName],
  source: config[OUTBOX_ENV.source],
  ...(config[OUTBOX_ENV.retentionSeconds] === undefined ? {} : { retentionSeconds: config[OUTBOX_ENV.retentionSeconds] }),
});

export type PlaceOrderResult =
  | { readonly status: 'accepted'; readonly orderId: string; readonly eventIds: string[] }
  | { readonly status: 'rejected'; readonly error: 'InvalidCommand' | 'OrderAlreadyPlaced'; readonly message: string };

/** `PlaceOrder` (invoke directly): validates, decides, commits the order and `coffee.order.placed`. */
export const handler = async (input: unknown): Promise<PlaceOrderResult> => {
  const parsed = PlaceOrderSchema.safeParse(input);
  if (!parsed.success) {
    const message = parsed.error.issues.map((i) => `${i.path.join('.') || '(command)'}: ${i.message}`).join('; ');
    logger.warn('PlaceOrder rejected', { error: 'InvalidCommand' });
    return { status: 'rejected', error: 'InvalidCommand', message };
  }
  const command = parsed.data;
  const { state, events } = placeOrder(command, new Date());
  try {
    const committed = await outbox.commit([{ id: command.orderId, key: orderKey(command.orderId), expectedVersion: 0, state, events }]);
    logger.info('order placed', { orderId: command.orderId, eventIds: committed.map((e) => e.id) });
    return { status: 'accepted', orderId: command.orderId, eventIds: committed.map((e) => e.id) };
  } catch (error) {
    if (!(error instanceof ConcurrencyError)) throw error;
    return { status: 'rejected', error: 'OrderAlreadyPlaced', message: `order ${command.orderId} was already placed` };
  }
};
