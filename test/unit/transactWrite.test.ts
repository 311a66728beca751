import { GetItemCommand, TransactionCanceledException, TransactWriteItemsCommand, type CancellationReason, type DynamoDBClient, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import { AlreadyAppliedError, digestOf, MessageIdReusedError, type InboxClaim } from '../../functions/toolkit/inbox';
import { Outbox, TransactionConflictError, transactWrite } from '../../functions/toolkit/outbox';

const claim: InboxClaim = { tableName: 'consumer-state', messageId: '01937c2e-0000-7000-8000-000000000001', digest: digestOf(['coffee.orders', 'coffee.order.placed', 'o-1', '1', 1, { orderId: 'o-1' }]), expiresAt: 1_900_000_000 };
const effect: TransactWriteItem = { Update: { TableName: 'service', Key: marshall({ pk: 'QUEUE#o-1', sk: 'STATE' }), UpdateExpression: 'SET #s = if_not_exists(#s, :s)', ExpressionAttributeNames: { '#s': 'summary' }, ExpressionAttributeValues: marshall({ ':s': 'latte' }) } };

const cancelled = (reasons: CancellationReason[]) => new TransactionCanceledException({ message: 'Transaction cancelled', $metadata: {}, CancellationReasons: reasons });

/** A DynamoDB client that answers each TransactWriteItems with the next scripted outcome and records the calls. */
function scripted(outcomes: Array<Error | undefined>, stored?: Record<string, unknown>) {
  const transactions: Array<{ items: TransactWriteItem[]; token: string | undefined }> = [];
  const client = {
    send: async (command: unknown) => {
      if (command instanceof TransactWriteItemsCommand) {
        transactions.push({ items: command.input.TransactItems!, token: command.input.ClientRequestToken });
        const outcome = outcomes.shift();
        if (outcome) throw outcome;
        return {};
      }
      if (command instanceof GetItemCommand) return stored ? { Item: marshall(stored) } : {};
      throw new Error('unexpected call');
    },
  };
  return { client: client as unknown as DynamoDBClient, transactions };
}

const noSleep = { sleep: async () => undefined };

describe('transactWrite: one transaction with the consumer’s inbox item', () => {
  it('writes the effect and, last, the inbox item on condition that it is absent, with the digest and the expiry', async () => {
    // arrange
    const { client, transactions } = scripted([undefined]);

    // act
    await transactWrite(client, [effect], { inbox: claim, clock: () => new Date('2026-12-07T10:00:00Z') });

    // assert
    const [written] = transactions;
    expect(written!.items[0]).toEqual(effect);
    const inbox = written!.items[1]!.Put!;
    expect(inbox.ConditionExpression).toBe('attribute_not_exists(#id)');
    expect(unmarshall(inbox.Item!)).toEqual({ id: `inbox#${claim.messageId}`, digest: claim.digest, appliedAt: '2026-12-07T10:00:00.000Z', expiration: 1_900_000_000 });
  });

  it('says "applied before" when the inbox item exists with the same digest: nothing was written', async () => {
    const { client } = scripted([cancelled([{ Code: 'None' }, { Code: 'ConditionalCheckFailed', Item: marshall({ id: `inbox#${claim.messageId}`, digest: claim.digest }) }])]);
    await expect(transactWrite(client, [effect], { inbox: claim })).rejects.toBeInstanceOf(AlreadyAppliedError);
  });

  it('refuses a message that reuses an applied message’s id with other content (poison, not a duplicate)', async () => {
    const { client } = scripted([cancelled([{ Code: 'None' }, { Code: 'ConditionalCheckFailed', Item: marshall({ id: `inbox#${claim.messageId}`, digest: 'another' }) }])]);
    await expect(transactWrite(client, [effect], { inbox: claim })).rejects.toBeInstanceOf(MessageIdReusedError);
  });

  it('reads the inbox item when the cancellation reason does not carry it', async () => {
    const { client } = scripted([cancelled([{ Code: 'None' }, { Code: 'ConditionalCheckFailed' }])], { id: `inbox#${claim.messageId}`, digest: 'another' });
    await expect(transactWrite(client, [effect], { inbox: claim })).rejects.toBeInstanceOf(MessageIdReusedError);
  });

  it('sends the same transaction again after a TransactionConflict, with a new token, until it goes through', async () => {
    // arrange: AWS cancels a transaction that meets another one on the same item
    const conflict = () => cancelled([{ Code: 'TransactionConflict' }, { Code: 'None' }]);
    const { client, transactions } = scripted([conflict(), conflict(), undefined]);

    // act
    await transactWrite(client, [effect], { inbox: claim, clientRequestToken: 'first-token', ...noSleep });

    // assert
    expect(transactions).toHaveLength(3);
    expect(transactions.map((t) => t.items)).toEqual([transactions[0]!.items, transactions[0]!.items, transactions[0]!.items]);
    expect(transactions[0]!.token).toBe('first-token');
    expect(new Set(transactions.map((t) => t.token)).size).toBe(3);
  });

  it('gives up after its attempts with a transient TransactionConflictError, having written nothing', async () => {
    const { client, transactions } = scripted(Array.from({ length: 5 }, () => cancelled([{ Code: 'TransactionConflict' }])));
    const error = await transactWrite(client, [effect], { conflictRetry: { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 1 }, ...noSleep }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransactionConflictError);
    expect(transactions).toHaveLength(5);
  });

  it('never retries a failed condition: the caller translates it', async () => {
    const failed = cancelled([{ Code: 'ConditionalCheckFailed' }, { Code: 'TransactionConflict' }]);
    const { client, transactions } = scripted([failed]);
    await expect(transactWrite(client, [effect], noSleep)).rejects.toBe(failed);
    expect(transactions).toHaveLength(1);
  });
});

describe('Outbox.commit with an inbox claim', () => {
  const change = { id: 'o-1', key: { pk: 'ORDER#o-1', sk: 'STATE' }, expectedVersion: 0, state: { status: 'placed' }, events: [{ type: 'coffee.order.placed', data: { orderId: 'o-1' } }] };

  it('commits the aggregate, its events and the inbox item in one transaction', async () => {
    const { client, transactions } = scripted([undefined]);
    await new Outbox({ client, tableName: 'service', source: 'coffee.orders' }).commit([change], { inbox: claim });
    expect(transactions[0]!.items.map((item) => item.Put?.TableName)).toEqual(['service', 'service', 'consumer-state']);
  });

  it('reports a redelivered message as applied before, not as a lost race on the aggregate', async () => {
    // arrange: both the version condition and the inbox item fail (the first delivery committed both)
    const { client } = scripted([cancelled([{ Code: 'ConditionalCheckFailed' }, { Code: 'ConditionalCheckFailed' }, { Code: 'ConditionalCheckFailed', Item: marshall({ digest: claim.digest }) }])]);
    await expect(new Outbox({ client, tableName: 'service', source: 'coffee.orders' }).commit([change], { inbox: claim })).rejects.toBeInstanceOf(AlreadyAppliedError);
  });
});
