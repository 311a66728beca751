import { DeleteRuleCommand, EventBridgeClient, PutRuleCommand, PutTargetsCommand, RemoveTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyEventId } from '../../functions/toolkit/schemas/olderVersionCopy';
import { unique } from '../support/eventually';
import { stackOutputs } from '../support/outputs';
import { walletAs } from '../support/actors';

// During the v1 → v2 migration of wallet.transaction.added, the wallet's relay publishes each euro
// transaction on the bus twice: as committed (v2) and as a v1 copy for consumers not yet moved.
const eventbridge = new EventBridgeClient({});
const sqs = new SQSClient({});
const ruleName = unique('dual-publishing');
let queueUrl: string;
let out: Record<string, string>;

interface Envelope {
  id: string;
  type: string;
  dataversion: number;
  partitionkey: string;
  sequence: number | string;
  data: { transactionId: string; amount: unknown };
}

beforeAll(async () => {
  out = stackOutputs('Wallet');
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: ruleName }))).QueueUrl!;
  const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  await eventbridge.send(new PutRuleCommand({ Name: ruleName, EventBusName: out.WalletBusName, EventPattern: JSON.stringify({ source: ['wallet.accounts'], 'detail-type': ['wallet.transaction.added'] }) }));
  await eventbridge.send(new PutTargetsCommand({ Rule: ruleName, EventBusName: out.WalletBusName, Targets: [{ Id: 'queue', Arn: queueArn }] }));
});

afterAll(async () => {
  await eventbridge.send(new RemoveTargetsCommand({ Rule: ruleName, EventBusName: out.WalletBusName, Ids: ['queue'] }));
  await eventbridge.send(new DeleteRuleCommand({ Name: ruleName, EventBusName: out.WalletBusName }));
  await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
});

describe('publishing both versions side by side (the wallet relay’s migration option)', () => {
  it('puts a euro transaction on the bus as v2 and as a v1 copy (same key and sequence, a derived id); a dollar one only as v2', async () => {
    const api = await walletAs();
    const euros = unique('eur');
    const dollars = unique('usd');
    for (const [accountId, currency] of [[euros, 'EUR'], [dollars, 'USD']] as const) {
      expect(await api.call('POST', '/accounts', { accountId, holderName: 'Mary Somerville', currency })).toMatchObject({ status: 201 });
      expect(await api.call('POST', `/accounts/${accountId}/transactions`, { transactionId: `${accountId}-t1`, amount: { amount: 4_200, currency } })).toMatchObject({ status: 201 });
    }

    const received: Envelope[] = [];
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && received.filter((e) => e.partitionkey === euros).length < 2) {
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      received.push(...Messages.map((m) => (JSON.parse(m.Body!) as { detail: Envelope }).detail));
    }
    await new Promise((resolve) => setTimeout(resolve, 1500)); // a stray copy of the dollar one would arrive by now
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    received.push(...Messages.map((m) => (JSON.parse(m.Body!) as { detail: Envelope }).detail));

    const euro = received.filter((e) => e.partitionkey === euros).sort((a, b) => b.dataversion - a.dataversion);
    expect(euro.map((e) => e.dataversion)).toEqual([2, 1]);
    const [v2, v1] = euro as [Envelope, Envelope];
    expect(v2.data.amount).toEqual({ amount: 4_200, currency: 'EUR' });
    expect(v1.data.amount).toBe(4_200);
    expect(v1).toMatchObject({ partitionkey: v2.partitionkey, sequence: v2.sequence, id: copyEventId(v2.id, 1) });
    expect(received.filter((e) => e.partitionkey === dollars).map((e) => e.dataversion)).toEqual([2]);
  });
});
