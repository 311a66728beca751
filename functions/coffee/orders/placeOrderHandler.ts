import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseConfig } from '../../toolkit/config/parseConfig';
import { ConcurrencyError, Outbox, OUTBOX_ENV, OutboxConfigSchema } from '../../toolkit/outbox';
import { PersonalDataSealer } from '../../toolkit/privacy/PersonalDataSealer';
import { sealPersonalFields } from '../../toolkit/privacy/personal';
import { CustomerSchema, orderKey, placeOrder, PlaceOrderSchema, type Customer } from './placeOrder';

const config = parseConfig(OutboxConfigSchema);
const logger = new Logger({ serviceName: 'coffee-orders' });
const dynamodb = new DynamoDBClient({});
const sealer = PersonalDataSealer.fromEnvironment({ dynamodb });
const outbox = new Outbox({
  client: dynamodb,
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
  // Sealed before anything else sees it: the customer's plaintext never reaches a table, event or log.
  const customer: Customer | undefined = command.customer && (await sealPersonalFields(CustomerSchema, command.customer, command.customer.customerId, sealer));
  const { state, events } = placeOrder(command, new Date(), customer);
  try {
    const committed = await outbox.commit([{ id: command.orderId, key: orderKey(command.orderId), expectedVersion: 0, state, events }]);
    logger.info('order placed', { orderId: command.orderId, eventIds: committed.map((e) => e.id) });
    return { status: 'accepted', orderId: command.orderId, eventIds: committed.map((e) => e.id) };
  } catch (error) {
    if (!(error instanceof ConcurrencyError)) throw error;
    return { status: 'rejected', error: 'OrderAlreadyPlaced', message: `order ${command.orderId} was already placed` };
  }
};
