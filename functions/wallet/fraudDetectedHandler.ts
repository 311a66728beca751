import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { defineConsumer } from '../toolkit/consumer';
import { walletRegistry } from './schemas';
import { walletStore } from './walletStore';
import { instrument } from '../toolkit/observability';

const store = walletStore(instrument(new DynamoDBClient({})));

/**
 * The wallet reacts to the anti-fraud service: a detection flags the account (debits then refused).
 * The flag and the event's inbox claim are one append: a redelivered detection changes nothing.
 */
export const handler = defineConsumer({
  events: walletRegistry.consumerSchemas(['fraud.detected']),
  handler: async (event, { logger, inbox }) => {
    const handled = await store.handle(event.data.accountId, {
      kind: 'FlagAccount',
      accountId: event.data.accountId,
      reason: `${event.data.rule}: ${event.data.detail}`,
      fraudEventId: event.id,
      at: event.data.detectedAt,
    }, { inbox });
    logger.info('account flagged', { accountId: event.data.accountId, rule: event.data.rule, committed: handled.events.length });
  },
});
