import { ConditionalCheckFailedException, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import * as z from 'zod';
import { parseConfig } from '../toolkit/config/parseConfig';
import { decodeMessage, defineConsumer } from '../toolkit/consumer';
import { instrument } from '../toolkit/observability';
import { ConcurrencyError, readAggregate } from '../toolkit/outbox';
import { outboxFromEnv } from '../toolkit/outbox/outboxFromEnv';
import { DynamoEventLog, PROJECTION_ENV } from '../toolkit/projection';
import { jsonEnv } from '../toolkit/config/parseConfig';
import { WALLET_SOURCE, walletRegistry } from '../wallet/schemas';
import { followLog, positionOf, type WatchedAccount } from './rules';
import { SubjectErasedData } from '../toolkit/privacy/erase';
import { SUBJECT_ERASED } from '../toolkit/privacy/privacyConfig';

const dynamodb = instrument(new DynamoDBClient({}));
const { outbox, tableName } = outboxFromEnv(dynamodb);
/** The wallet's log (its outbox, kept for good), to catch up on what has not arrived yet. */
const walletLog = new DynamoEventLog(dynamodb, parseConfig(z.object({ [PROJECTION_ENV.logs]: jsonEnv(z.record(z.string().min(1), z.string().min(1))) }))[PROJECTION_ENV.logs]);

/** Per account: what the rules remember, and the last wallet event of the account folded in. */
const watchKey = (accountId: string) => ({ pk: `WATCH#${accountId}`, sk: 'STATE' });
/** Per account: that its holder was erased (from `privacy.subject.erased`). */
const erasedKey = (accountId: string) => ({ pk: `ERASED#${accountId}`, sk: 'STATE' });
/** Per account: the detections published (the aggregate whose events are `fraud.detected`). */
const detectionsKey = (accountId: string) => ({ pk: `DETECTIONS#${accountId}`, sk: 'STATE' });

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
 * The anti-fraud service: an ordered consumer of the wallet's log, per account in sequence order (old
 * v1 transactions arrive upcast to v2). Its effect is ordered, so its dedup is its place in each
 * account's log, written in the same transaction as the effect (an inbox keyed by sequence rather than
 * by event id: it also refuses to apply an event before an older one, and stays one item per account
 * instead of one per event for good). An event at or below the place was applied; one after a gap
 * (a redriven or late delivery, a stream that reordered) first catches up from the wallet's log, so
 * the rules always see the account's history in order. Detections are published as `fraud.detected`
 * through the service's own outbox, in the transaction that moves the place.
 */
export const handler = defineConsumer({
  // A holder's erasure comes down the same log (the wallet's erase function commits it there).
  events: { ...WALLET_EVENTS, [SUBJECT_ERASED]: SubjectErasedData },
  idempotency: 'handler',
  handler: async (event, { logger }) => {
    if (event.type === SUBJECT_ERASED) {
      // The watch holds amounts, times and payee countries, never a name: nothing of the holder's to
      // shred here (their names are sealed in the wallet's log, and now unreadable). The watch's place
      // in the account's log stays, so a late delivery is still recognised and never detected twice.
      // It records that the holder was erased (an overwrite: a redelivery changes nothing), so a fraud
      // operator reading the account's detections knows why its names no longer open.
      await dynamodb.send(new PutItemCommand({ TableName: tableName, Item: marshall({ ...erasedKey(event.data.subject), erasedAt: event.data.erasedAt, eventId: event.id }) }));
      logger.info('holder erased; the watch holds no personal data', { eventId: event.id });
      return;
    }
    // Other events move the place too, but only transactions matter to the rules: they are read from
    // the log when a transaction after them arrives.
    if (event.type !== 'wallet.transaction.added') return;
    const accountId = event.partitionkey;
    const sequence = Number(event.sequence);
    const current = (await readAggregate<WatchedAccount>(dynamodb, tableName, watchKey(accountId)))?.state;
    const position = positionOf(current, sequence);
    if (position.kind === 'applied-before') return;
    const earlier = position.kind === 'gap' ? await walletLog.read(WALLET_SOURCE, accountId, position.after, position.before) : [];
    if (earlier.length !== sequence - (current?.lastSequence ?? 0) - 1) {
      // The wallet keeps its log for good and commits in order: what is missing will be there. Retry.
      throw new Error(`the wallet's log of the account has ${earlier.length} of the ${sequence - (current?.lastSequence ?? 0) - 1} events before sequence ${sequence} yet`);
    }
    const log = [...earlier.map((envelope) => decodeMessage(JSON.stringify(envelope), WALLET_EVENTS)), event].map((e) => ({
      sequence: Number(e.sequence),
      ...(e.type === 'wallet.transaction.added' ? { transaction: e.data } : {}),
    }));
    const { watch, lastSequence, detections } = followLog(current, log);
    const watchItem = { ...watchKey(accountId), watch, lastSequence };
    // The place must still be where this decision read it: a concurrent delivery makes this one retry.
    const condition = { expression: 'attribute_not_exists(pk) OR lastSequence = :last', values: { ':last': current?.lastSequence ?? 0 } };

    if (detections.length === 0) {
      try {
        await dynamodb.send(new PutItemCommand({ TableName: tableName, Item: marshall(watchItem), ConditionExpression: condition.expression, ExpressionAttributeValues: marshall(condition.values) }));
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) throw new ConcurrencyError(accountId, current?.lastSequence ?? 0, undefined, { cause: error });
        throw error;
      }
      if (earlier.length > 0) logger.info('caught up from the wallet log', { eventId: event.id, caughtUp: earlier.length });
      return;
    }
    const published = await readAggregate<{ count: number }>(dynamodb, tableName, detectionsKey(accountId));
    await outbox.commit([
      {
        id: accountId,
        key: detectionsKey(accountId),
        expectedVersion: published?.version ?? 0,
        state: { count: (published?.state.count ?? 0) + detections.length },
        events: detections.map((detection) => ({ type: 'fraud.detected', data: { accountId, rule: detection.rule, detail: detection.detail, transactionIds: detection.transactionIds, detectedAt: detection.at } })),
        puts: () => [{ item: watchItem, condition }],
      },
    ]);
    logger.warn('fraud detected', { accountId, rules: detections.map((d) => d.rule), eventId: event.id, caughtUp: earlier.length });
  },
});
