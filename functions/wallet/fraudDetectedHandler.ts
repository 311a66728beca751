import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { defineConsumer } from '../toolkit/consumer';
import { walletRegistry } from './schemas';
import { walletStore } from './walletStore';
import { instrument } from '../toolkit/observability';

const store = walletStore(instrument(new DynamoDBClient({})));

/** The wallet reacts to the anti-fraud service: a detection flags the account (once; debits then refused). */
export const handler = defineConsumer({
  events: walletRegistry.consumerSchemas(['fraud.detected']),
  handler: async (event, { logger }) => {
    const handled = await store.handle(event.data.accountId, {
      kind: 'FlagAccount',
      accountId: event.data.accountId,
      reason: `${event.data.rule}: ${event.data.detail}`,
      fraudEventId: event.id,
      at: event.data.detectedAt,
    });
    logger.info('account flagged', { accountId: event.data.accountId, rule: event.data.rule, committed: handled.events.length });
  },
});
