import { ConditionalCheckFailedException, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { defineConsumer } from '../toolkit/consumer';
import { ConcurrencyError, readAggregate } from '../toolkit/outbox';
import { walletRegistry } from '../wallet/schemas';
import { outboxFromEnv } from '../toolkit/outbox/outboxFromEnv';
import { emptyWatch, watchTransaction, type AccountWatch } from './rules';
import { instrument } from '../toolkit/observability';

const dynamodb = instrument(new DynamoDBClient({}));
const { outbox, tableName } = outboxFromEnv(dynamodb);

/** Per account: what the rules remember, and the last wallet event (by sequence) applied to it. */
const watchKey = (accountId: string) => ({ pk: `WATCH#${accountId}`, sk: 'STATE' });
/** Per account: the detections published (the aggregate whose events are `fraud.detected`). */
const detectionsKey = (accountId: string) => ({ pk: `DETECTIONS#${accountId}`, sk: 'STATE' });

interface WatchItem {
  readonly watch: AccountWatch;
  readonly lastSequence: number;
}

const WALLET_EVENTS = walletRegistry.consumerSchemas([
  'wallet.account.opened',
  'wallet.transaction.added',
  'wallet.account.flagged',
  'wallet.account.cleared',
  'wallet.funds.reserved',
  'wallet.funds.released',
  'wallet.funds.reservation.confirmed',
  'wallet.transfer.credited',
  'wallet.transfer.credit.reversed',
  'wallet.funds.reservation.refused',
  'wallet.transfer.credit.refused',
  'wallet.funds.confirmation.refused',
]);

/**
 * The anti-fraud service: an ordered consumer of the wallet's log (per account, in sequence order;
 * old v1 transactions arrive upcast to v2). The rules' state is built only from those events; a
 * detection is published as `fraud.detected` through the service's own outbox, in the same
 * transaction as the state that led to it. A redelivered event (sequence already applied) is skipped.
 */
export const handler = defineConsumer({
  events: WALLET_EVENTS,
  handler: async (event, { logger }) => {
    if (event.type !== 'wallet.transaction.added') return;
    const accountId = event.data.accountId;
    const sequence = Number(event.sequence);
    const current = await readAggregate<WatchItem>(dynamodb, tableName, watchKey(accountId));
    if (current && current.state.lastSequence >= sequence) return;
    const { watch, detections } = watchTransaction(current?.state.watch ?? emptyWatch, event.data);
    const watchItem = { ...watchKey(accountId), watch, lastSequence: sequence };

    if (detections.length === 0) {
      try {
        await dynamodb.send(
          new PutItemCommand({
            TableName: tableName,
            Item: marshall(watchItem),
            ConditionExpression: 'attribute_not_exists(pk) OR lastSequence < :sequence',
            ExpressionAttributeValues: marshall({ ':sequence': sequence }),
          }),
        );
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
      return;
    }
    const published = await readAggregate<{ count: number }>(dynamodb, tableName, detectionsKey(accountId));
    const detectedAt = event.data.at;
    try {
      await outbox.commit([
        {
          id: accountId,
          key: detectionsKey(accountId),
          expectedVersion: published?.version ?? 0,
          state: { count: (published?.state.count ?? 0) + detections.length },
          events: detections.map((detection) => ({ type: 'fraud.detected', data: { accountId, rule: detection.rule, detail: detection.detail, transactionIds: detection.transactionIds, detectedAt } })),
          puts: () => [{ item: watchItem }],
        },
      ]);
    } catch (error) {
      if (error instanceof ConcurrencyError) return; // a concurrent delivery of the same event published it
      throw error;
    }
    logger.warn('fraud detected', { accountId, rules: detections.map((d) => d.rule), eventId: event.id });
  },
});
