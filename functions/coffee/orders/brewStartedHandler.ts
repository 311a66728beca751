import { ConditionalCheckFailedException, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { parseConfig } from '../../toolkit/config/parseConfig';
import { defineConsumer } from '../../toolkit/consumer';
import { OUTBOX_ENV, OutboxConfigSchema } from '../../toolkit/outbox';
import { BREW_STARTED, BrewStartedSchema } from '../barista/ticket';
import { brewingKey } from './cancelOrder';
import { instrument } from '../../toolkit/observability';

const config = parseConfig(OutboxConfigSchema);
const dynamodb = instrument(new DynamoDBClient({}));

/**
 * The orders service records that the barista started an order, so a later cancel is refused. Not
 * an event of its own: the fact is the barista's, and the order's own state and log are unchanged.
 */
export const handler = defineConsumer({
  events: { [BREW_STARTED]: BrewStartedSchema },
  handler: async (event, { logger }) => {
    try {
      await dynamodb.send(
        new PutItemCommand({
          TableName: config[OUTBOX_ENV.tableName],
          Item: marshall({ ...brewingKey(event.data.orderId), startedAt: event.data.startedAt, eventId: event.id }),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      logger.info('brew start recorded', { orderId: event.data.orderId });
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  },
});
