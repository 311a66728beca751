import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient, ListEventSourceMappingsCommand, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { WALLET_SOURCE } from '../../functions/wallet/schemas';
import { walletStore } from '../../functions/wallet/walletStore';
import type { ApiClient } from '../../scripts/demo/coffeeClient';
import { eventually, unique } from '../support/eventually';
import { stackOutputs } from '../support/outputs';
import { fraudOperator, walletAs } from '../support/actors';

let out: Record<string, string>;
let api: ApiClient;
const eur = (amount: number) => ({ amount, currency: 'EUR' });

beforeAll(async () => {
  out = stackOutputs('Wallet');
  api = await walletAs();
});

async function openAccount(): Promise<string> {
  const accountId = unique('acct');
  expect(await api.call('POST', '/accounts', { accountId, holderName: 'Grace Hopper', currency: 'EUR' })).toMatchObject({ status: 201 });
  return accountId;
}
const account = (accountId: string) => api.call<{ balance: number; available: number; flagged: boolean; version: number }>('GET', `/accounts/${accountId}`);
const transact = (accountId: string, amount: number, extra: Record<string, unknown> = {}) => api.call('POST', `/accounts/${accountId}/transactions`, { transactionId: unique('tx'), amount: eur(amount), ...extra });

describe('the wallet and anti-fraud, on the local cloud', () => {
  it('keeps an event-sourced account: credits and debits move the balance; bad commands are refused with the reason', async () => {
    const accountId = await openAccount();
    expect(await transact(accountId, 10_000)).toMatchObject({ status: 201, body: { balance: 10_000 } });
    expect(await transact(accountId, -2_500, { payee: { name: 'Corner Shop', country: 'NL' } })).toMatchObject({ status: 201, body: { balance: 7_500 } });
    expect(await transact(accountId, -9_000)).toMatchObject({ status: 409, body: { error: 'InsufficientFunds' } });
    expect(await api.call('POST', `/accounts/${accountId}/transactions`, { transactionId: unique('tx'), amount: { amount: 5, currency: 'USD' } })).toMatchObject({ status: 422, body: { error: 'CurrencyMismatch' } });
    const malformed = await api.call('POST', `/accounts/${accountId}/transactions`, { transactionId: 'x', amount: { amount: 1.5 } });
    expect(malformed).toMatchObject({ status: 400, body: { error: 'InvalidCommand' } });
    expect(malformed.body.message).toMatch(/transactionId/);
    expect(malformed.body.message).toMatch(/amount\.currency/);
    const tooLarge = await api.call('POST', `/accounts/${accountId}/transactions`, { transactionId: unique('tx'), amount: eur(100_000_001) });
    expect(tooLarge).toMatchObject({ status: 400, body: { error: 'InvalidCommand', message: expect.stringMatching(/amount\.amount: Too big/) } });
    // a retried open (same holder, same currency) is answered as the first time; another request reusing the id is a 409
    expect(await api.call('POST', '/accounts', { accountId, holderName: 'Grace Hopper', currency: 'EUR' })).toMatchObject({ status: 201, body: { accountId } });
    expect(await api.call('POST', '/accounts', { accountId, holderName: 'Again', currency: 'EUR' })).toMatchObject({ status: 409, body: { error: 'AccountExists' } });
    expect(await api.call('POST', '/accounts', { accountId, holderName: 'Grace Hopper', currency: 'USD' })).toMatchObject({ status: 409, body: { error: 'AccountExists' } });
    expect(await account(accountId)).toMatchObject({ status: 200, body: { balance: 7_500, available: 7_500, flagged: false, version: 3 } });
    expect(await account(unique('none'))).toMatchObject({ status: 404 });
  });

  it('refuses a holder or payee name that would display as another or cannot be stored, with a 400 that says why, and opens nothing', async () => {
    const accountId = unique('acct');
    const reversed = await api.call('POST', '/accounts', { accountId, holderName: 'Grace\u202eHopper', currency: 'EUR' });
    expect(reversed).toMatchObject({ status: 400, body: { error: 'InvalidCommand', message: expect.stringMatching(/holderName: .*bidirectional control U\+202E/) } });
    expect(await account(accountId)).toMatchObject({ status: 404 });
    const opened = await openAccount();
    const lone = await transact(opened, -100, { payee: { name: 'Corner \ud800Shop', country: 'NL' } });
    expect(lone).toMatchObject({ status: 400, body: { error: 'InvalidCommand', message: expect.stringMatching(/payee\.name: .*lone surrogate/) } });
    const control = await transact(opened, -100, { payee: { name: 'Corner\u0000Shop', country: 'NL' } });
    expect(control).toMatchObject({ status: 400, body: { error: 'InvalidCommand', message: expect.stringMatching(/payee\.name: .*control character U\+0000/) } });
    expect(await account(opened)).toMatchObject({ status: 200, body: { balance: 0, version: 1 } });
  });

  it('a retried transaction (same id, same request) is answered 201 and adds nothing; the same id with another request is a 409', async () => {
    const accountId = await openAccount();
    const debit = { transactionId: unique('tx'), amount: eur(-2_500), payee: { name: 'Corner Shop', country: 'NL' } };
    expect(await transact(accountId, 10_000)).toMatchObject({ status: 201, body: { balance: 10_000 } });
    const first = await api.call('POST', `/accounts/${accountId}/transactions`, debit);
    expect(first).toMatchObject({ status: 201, body: { balance: 7_500, version: 3 } });

    expect(await api.call('POST', `/accounts/${accountId}/transactions`, debit)).toEqual(first);
    for (const other of [{ ...debit, amount: eur(-2_600) }, { ...debit, amount: { amount: -2_500, currency: 'USD' } }, { ...debit, payee: { name: 'Corner Shop', country: 'BE' } }, { transactionId: debit.transactionId, amount: debit.amount }]) {
      expect(await api.call('POST', `/accounts/${accountId}/transactions`, other)).toMatchObject({ status: 409, body: { error: 'TransactionIdReused', message: expect.stringMatching(/was already used for another request/) } });
    }
    expect(await account(accountId)).toMatchObject({ body: { balance: 7_500, version: 3 } });
  });

  it('concurrent commands on one account all land: the losers of each append decide again on fresh state', async () => {
    const accountId = await openAccount();
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => transact(accountId, 100 * (i + 1))));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(201));
    expect(await account(accountId)).toMatchObject({ body: { balance: 3_600, version: 9 } });
  });

  it('fraud detected → account flagged → debit refused, until cleared', async () => {
    const accountId = await openAccount();
    // six transactions within a minute: the velocity rule fires on the sixth
    expect(await transact(accountId, 50_000)).toMatchObject({ status: 201 });
    for (let i = 0; i < 5; i++) expect(await transact(accountId, -1_000)).toMatchObject({ status: 201 });

    await eventually(() => account(accountId), (a) => a.body.flagged === true, { what: 'the account flagged by the anti-fraud service', timeoutMs: 60_000 });
    expect(await transact(accountId, -1_000)).toMatchObject({ status: 409, body: { error: 'AccountFlagged', message: expect.stringMatching(/until it is cleared/) } });
    expect(await transact(accountId, 1_000)).toMatchObject({ status: 201 }); // credits still land

    expect(await api.call('POST', `/accounts/${accountId}/clear`, {}, await fraudOperator())).toMatchObject({ status: 200 });
    expect(await transact(accountId, -1_000)).toMatchObject({ status: 201 });
  });

  it('loads old v1 events through the upcaster: a v1 transaction in the log still counts, in euros', async () => {
    const accountId = await openAccount();
    const store = walletStore(new DynamoDBClient({}), undefined, { tableName: out.WalletTableName!, source: WALLET_SOURCE });
    const { version } = await store.load(accountId);
    // a transaction written before v2 existed: amount is a bare number (euro cents)
    await store.append(accountId, version, [{ type: 'wallet.transaction.added', dataversion: 1, data: { accountId, transactionId: unique('v1'), amount: 1_234, at: new Date().toISOString() } as never }]);
    expect(await transact(accountId, 1_000)).toMatchObject({ status: 201, body: { balance: 2_234 } });
    expect(await account(accountId)).toMatchObject({ body: { balance: 2_234, version: 3 } });
  });
});

describe('transfers: an orchestrated saga that compensates, on the local cloud', () => {
  type Transfer = { status: string; completedSteps: string[]; failure?: { step: string; reason: string } };
  const transfer = (from: string, to: string, amount: number, currency = 'EUR') => {
    const transferId = unique('xfer');
    return api.call('POST', '/transfers', { transferId, from, to, amount: { amount, currency } }).then((answer) => ({ transferId, answer }));
  };
  const finished = (transferId: string) =>
    eventually(() => api.call<Transfer>('GET', `/transfers/${transferId}`), (t) => ['completed', 'compensated', 'failed'].includes(t.body.status), { what: `transfer ${transferId} to finish`, timeoutMs: 90_000 });
  const balances = async (...accountIds: string[]) => Promise.all(accountIds.map(async (id) => (await account(id)).body));
  const total = (accounts: { balance: number }[]) => accounts.reduce((sum, a) => sum + a.balance, 0);

  async function funded(amount: number, currency = 'EUR'): Promise<string> {
    const accountId = unique('acct');
    expect(await api.call('POST', '/accounts', { accountId, holderName: 'Alan Turing', currency })).toMatchObject({ status: 201 });
    if (amount > 0) expect(await api.call('POST', `/accounts/${accountId}/transactions`, { transactionId: unique('tx'), amount: { amount, currency } })).toMatchObject({ status: 201 });
    return accountId;
  }

  it('happy path: reserve → credit → confirm moves the money, and no money is created or lost', async () => {
    const [from, to] = [await funded(10_000), await funded(0)];
    const { transferId, answer } = await transfer(from, to, 2_500);
    expect(answer).toMatchObject({ status: 202, body: { transferId, status: 'started' } });
    expect((await finished(transferId)).body).toMatchObject({ status: 'completed', completedSteps: ['reserve', 'credit', 'confirm'] });
    const after = await balances(from, to);
    expect(after.map((a) => [a.balance, a.available])).toEqual([[7_500, 7_500], [2_500, 2_500]]);
    expect(total(after)).toBe(10_000);
  });

  it('a transfer id names one transfer: the same request again is accepted (202), the same id with other input is a conflict (409), also when they race', async () => {
    const [from, to] = [await funded(10_000), await funded(0)];
    const transferId = unique('xfer');
    const request = { transferId, from, to, amount: eur(1_000) };

    expect(await api.call('POST', '/transfers', request)).toMatchObject({ status: 202, body: { transferId, status: 'started' } });
    // A retry (e.g. after a timeout that hid the 202) changes nothing; its keys in another order are the same request.
    expect(await api.call('POST', '/transfers', { amount: eur(1_000), to, from, transferId })).toMatchObject({ status: 202 });
    const conflict = await api.call('POST', '/transfers', { ...request, amount: eur(1_001) });
    expect(conflict).toMatchObject({ status: 409, body: { error: 'TransferConflict' } });
    expect(conflict.body.message).toMatch(new RegExp(`${transferId}.*other input`));
    expect((await finished(transferId)).body).toMatchObject({ status: 'completed' });
    expect((await balances(from, to)).map((a) => a.balance)).toEqual([9_000, 1_000]);

    // Two different requests with one new id, at once: exactly one is accepted.
    const raced = unique('xfer');
    const answers = await Promise.all([api.call('POST', '/transfers', { ...request, transferId: raced }), api.call('POST', '/transfers', { ...request, transferId: raced, to: from, from: to })]);
    expect(answers.map((a) => a.status).sort()).toEqual([202, 409]);
  });

  it('refuses a transfer whose account ids are not client ids (400): every id that becomes a key is checked at the door', async () => {
    const answer = await api.call('POST', '/transfers', { transferId: unique('xfer'), from: 'has space', to: 'x'.repeat(65), amount: eur(1) });
    expect(answer).toMatchObject({ status: 400, body: { error: 'InvalidCommand' } });
    expect(answer.body.message).toMatch(/from.*to|to.*from/s);
  });

  it('a refused first step (insufficient funds) ends the transfer with nothing to undo', async () => {
    const [from, to] = [await funded(1_000), await funded(0)];
    const { transferId } = await transfer(from, to, 5_000);
    expect((await finished(transferId)).body).toMatchObject({ status: 'compensated', completedSteps: [], pendingCompensations: [], failure: { step: 'reserve', reason: 'refused' } });
    expect((await balances(from, to)).map((a) => [a.balance, a.available])).toEqual([[1_000, 1_000], [0, 0]]);
  });

  it('a refused second step (the target keeps another currency) releases the reservation', async () => {
    const from = await funded(10_000);
    const to = await funded(0, 'USD');
    const { transferId } = await transfer(from, to, 4_000);
    expect((await finished(transferId)).body).toMatchObject({ status: 'compensated', failure: { step: 'credit', reason: 'refused' } });
    const after = await balances(from, to);
    expect(after.map((a) => [a.balance, a.available])).toEqual([[10_000, 10_000], [0, 0]]);
    expect(total(after)).toBe(10_000);
  });

  it('dead-letters a malformed command on the wallet’s command queue at once, with the reason (a toolkit consumer)', async () => {
    // arrange: a command whose account id could never be a key
    const marker = unique('bad-command');
    const body = JSON.stringify({ kind: 'saga.command', commandId: marker, saga: 'wallet.transfers', sagaId: marker, step: 'reserve', phase: 'forward', attempt: 1, type: 'ReserveFunds', data: { transferId: marker, accountId: 'a#b', amount: { amount: 1, currency: 'EUR' } }, sentAt: new Date().toISOString() });

    // act
    await sqs.send(new SendMessageCommand({ QueueUrl: out.CommandQueueUrl, MessageBody: body }));

    // assert
    const dead = await eventually(
      async () => (await sqs.send(new ReceiveMessageCommand({ QueueUrl: out.CommandDeadLetterQueueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], WaitTimeSeconds: 1, VisibilityTimeout: 2 }))).Messages?.find((m) => m.Body?.includes(marker)),
      (m) => m !== undefined,
      { what: 'the command in the dead-letter queue', timeoutMs: 60_000 },
    );
    expect(dead!.MessageAttributes?.errorName?.StringValue).toBe('PoisonMessageError');
    expect(dead!.MessageAttributes?.errorMessage?.StringValue).toMatch(/data\.accountId/);
    expect(dead!.MessageAttributes?.attemptCount?.StringValue).toBe('1');
    await sqs.send(new DeleteMessageCommand({ QueueUrl: out.CommandDeadLetterQueueUrl, ReceiptHandle: dead!.ReceiptHandle }));
  });

  it('a transfer to an account that does not exist is refused without creating a stream for it', async () => {
    // arrange
    const from = await funded(10_000);
    const missing = unique('nobody');

    // act
    const { transferId } = await transfer(from, missing, 1_000);

    // assert: compensated, the refusal recorded on the transfer's own stream, nothing under the missing account
    expect((await finished(transferId)).body).toMatchObject({ status: 'compensated', failure: { step: 'credit', reason: 'refused' } });
    const store = walletStore(new DynamoDBClient({}), undefined, { tableName: out.WalletTableName!, source: WALLET_SOURCE });
    expect(await store.load(missing)).toMatchObject({ version: 0 });
    const refusals = await store.load(`transfer:${transferId}`);
    expect(refusals.version).toBe(1);
    expect((await balances(from)).map((a) => [a.balance, a.available])).toEqual([[10_000, 10_000]]);
  });

  it('a refused third step (the source flagged during the transfer) reverses the credit and releases the reservation', async () => {
    const [from, to] = [await funded(10_000), await funded(0)];
    // The test plays the wallet's command queue consumer, so that the flag lands between credit and confirm.
    const mapping = (await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: out.CommandHandlerFunctionName }))).EventSourceMappings![0]!;
    await lambda.send(new UpdateEventSourceMappingCommand({ UUID: mapping.UUID, Enabled: false }));
    try {
      const { transferId } = await transfer(from, to, 3_000);
      const applyNext = async (type: string) => {
        const message = await nextCommand(type);
        const response = await lambda.send(new InvokeCommand({ FunctionName: out.CommandHandlerFunctionName, Payload: JSON.stringify({ Records: [{ messageId: message.MessageId, body: message.Body, attributes: {}, messageAttributes: {} }] }) }));
        expect(response.FunctionError).toBeUndefined();
        await sqs.send(new DeleteMessageCommand({ QueueUrl: out.CommandQueueUrl, ReceiptHandle: message.ReceiptHandle }));
      };
      await applyNext('ReserveFunds');
      await applyNext('CreditTransfer');
      // six transactions within a minute: the anti-fraud service flags the source
      for (let i = 0; i < 5; i++) expect(await transact(from, 100)).toMatchObject({ status: 201 });
      await eventually(() => account(from), (a) => a.body.flagged === true, { what: 'the source flagged', timeoutMs: 60_000 });
      await applyNext('ConfirmReservation');
      await applyNext('ReverseCredit');
      await applyNext('ReleaseReservation');
      expect((await finished(transferId)).body).toMatchObject({ status: 'compensated', failure: { step: 'confirm', reason: 'refused' } });
    } finally {
      await lambda.send(new UpdateEventSourceMappingCommand({ UUID: mapping.UUID, Enabled: true }));
    }
    const after = await balances(from, to);
    expect(after.map((a) => [a.balance, a.available])).toEqual([[10_500, 10_500], [0, 0]]);
    expect(total(after)).toBe(10_500);
  });
});

const lambda = new LambdaClient({});
const sqs = new SQSClient({});
/** The next command of `type` the saga sent to the wallet's command queue (others are left for later). */
async function nextCommand(type: string): Promise<Message> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: out.CommandQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 2 }));
    const found = Messages.find((m) => (JSON.parse(m.Body!) as { type: string }).type === type);
    if (found) return found;
  }
  throw new Error(`no ${type} command within 60 s`);
}
