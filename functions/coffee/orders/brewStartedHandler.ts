import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { defineConsumer } from '../../toolkit/consumer';
import { outboxFromEnv } from '../../toolkit/outbox/outboxFromEnv';
import { transactWrite } from '../../toolkit/outbox/transactWrite';
import { instrument } from '../../toolkit/observability';
import { BREW_STARTED, BrewStartedSchema } from '../barista/ticket';
import { rememberFacts } from '../shared/rememberFacts';
import { brewingKey } from './cancelOrder';

const dynamodb = instrument(new DynamoDBClient({}));
const { tableName } = outboxFromEnv(dynamodb);

/**
 * The orders service records that the barista started an order, so a later cancel is refused (the
 * cancel's commit is guarded on this item). Not an event of its own: the fact is the barista's, and
 * the order's own state and log are unchanged.
 */
export const handler = defineConsumer({
  events: { [BREW_STARTED]: BrewStartedSchema },
  handler: async (event, { logger, inbox }) => {
    await transactWrite(dynamodb, [rememberFacts(tableName, brewingKey(event.data.orderId), { startedAt: event.data.startedAt, eventId: event.id })], { inbox });
    logger.info('brew start recorded', { orderId: event.data.orderId });
  },
});
