import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { WALLET_SOURCE } from '../../functions/wallet/schemas';
import { walletStore } from '../../functions/wallet/walletStore';
import { localApiUrl } from '../../localstack/endpoints';
import { CoffeeClient } from '../../scripts/demo/coffeeClient';
import { eventually, unique } from '../support/eventually';
import { stackOutputs } from '../support/outputs';

let out: Record<string, string>;
let api: CoffeeClient;
const eur = (amount: number) => ({ amount, currency: 'EUR' });

beforeAll(() => {
  out = stackOutputs('Wallet');
  api = new CoffeeClient(localApiUrl(out.WalletApiId!));
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
    expect(await api.call('POST', '/accounts', { accountId, holderName: 'Again', currency: 'EUR' })).toMatchObject({ status: 409, body: { error: 'AccountExists' } });
    expect(await account(accountId)).toMatchObject({ status: 200, body: { balance: 7_500, available: 7_500, flagged: false, version: 3 } });
    expect(await account(unique('none'))).toMatchObject({ status: 404 });
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

    expect(await api.call('POST', `/accounts/${accountId}/clear`, { clearedBy: 'fraud-desk' })).toMatchObject({ status: 200 });
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
