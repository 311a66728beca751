/**
 * Who may call what, on the deployed stacks, from the side of someone who should not: no token, a
 * signed-in user without the route's role, another user's order, account or transfer, a token of the
 * other service's user pool. And the right caller gets through. The rules are in
 * functions/coffee/access.ts and functions/wallet/access.ts; the README's table says the same.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { COFFEE_ACCESS } from '../../functions/coffee/access';
import { WALLET_ACCESS } from '../../functions/wallet/access';
import { localApiUrl } from '../../localstack/endpoints';
import { ApiClient, type ApiAnswer, type CoffeeClient } from '../../scripts/demo/coffeeClient';
import type { Identity } from '../../scripts/demo/identities';
import { coffeeShop, coffeeUsers, fraudOperator, walletAs, walletUsers } from '../support/actors';
import { eventually, unique } from '../support/eventually';
import { stackOutputs } from '../support/outputs';

/** A route key's path with every parameter filled in. */
const pathOf = (routeKey: string, id: string) => routeKey.split(' ')[1]!.replace(/\{[^}]+\}/g, id);
const methodOf = (routeKey: string) => routeKey.split(' ')[0] as 'GET' | 'POST';
const nonPublic = (access: Record<string, object>) => Object.keys(access).filter((key) => !('public' in access[key]!));

describe('the coffee shop: only the right callers', () => {
  let shop: CoffeeClient;
  let otherCustomer: Identity;
  let api: ApiClient;

  beforeAll(async () => {
    shop = await coffeeShop('access-customer-1');
    otherCustomer = await coffeeUsers().user('access-customer-2', ['customer']);
    api = new ApiClient(localApiUrl(stackOutputs('CoffeeShop').ApiId!));
  });

  it('answers 401 to every non-public route without a token, or with a token of the wallet’s user pool, and runs nothing', async () => {
    const stranger = await walletUsers().user('access-stranger', ['account-holder']);
    const orderId = unique('anon');
    for (const route of nonPublic(COFFEE_ACCESS)) {
      for (const as of [null, stranger]) {
        const answer = await api.call(methodOf(route), pathOf(route, orderId), methodOf(route) === 'POST' ? { orderId, lines: [{ product: 'latte' }] } : undefined, as);
        expect({ route, as: as?.username ?? 'nobody', status: answer.status }).toEqual({ route, as: as?.username ?? 'nobody', status: 401 });
      }
    }
    expect(await shop.boardRow(orderId)).toMatchObject({ status: 404 });
  });

  it('answers 403 to a signed-in caller without the route’s role, naming the role', async () => {
    const orderId = unique('roles');
    expect(await shop.placeOrder({ orderId, lines: [{ product: 'latte' }] })).toMatchObject({ status: 201 });
    const customer = shop.actors.customer;
    expect(await shop.call('POST', `/barista/orders/${orderId}/start`, undefined, customer)).toMatchObject({ status: 403, body: { error: 'Forbidden', message: expect.stringMatching(/is for barista/) } });
    expect(await shop.call('POST', `/counter/orders/${orderId}/serve`, undefined, shop.actors.barista)).toMatchObject({ status: 403, body: { error: 'Forbidden', message: expect.stringMatching(/is for counter/) } });
    expect(await shop.call('POST', '/orders', { orderId: unique('by-staff'), lines: [{ product: 'latte' }] }, shop.actors.barista)).toMatchObject({ status: 403 });
    expect(await shop.call('GET', '/analytics/wait-times', undefined, customer)).toMatchObject({ status: 403, body: { message: expect.stringMatching(/is for operator/) } });
    expect((await shop.waitTimes()).status).not.toBe(403);
  });

  it('lets only the customer who placed an order cancel it: another customer gets 404 and the order stays; the owner cancels', async () => {
    const orderId = unique('mine');
    expect(await shop.placeOrder({ orderId, lines: [{ product: 'mocha' }] })).toMatchObject({ status: 201 });

    expect(await shop.cancel(orderId, otherCustomer)).toMatchObject({ status: 404, body: { error: 'OrderNotFound' } });
    await eventually(() => shop.boardRow(orderId), (answer) => answer.status === 200, { what: `order ${orderId} on the board` });
    expect((await shop.boardRow(orderId)).body.status).not.toBe('cancelled');

    expect(await shop.cancel(orderId)).toMatchObject({ status: 200, body: { status: 'cancelled' } });
  });

  it('does not let another customer pass off a request under someone’s order id as a retry (409, nothing of the order told)', async () => {
    const command = { orderId: unique('retry'), lines: [{ product: 'latte', size: 'large' }] };
    expect(await shop.placeOrder(command)).toMatchObject({ status: 201 });
    const reused = await shop.placeOrder(command, otherCustomer);
    expect(reused).toMatchObject({ status: 409, body: { error: 'OrderIdReused' } });
    expect(JSON.stringify(reused.body)).not.toMatch(/totalCents|large/);
    expect(await shop.placeOrder(command)).toMatchObject({ status: 201 });
  });

  it('serves the board to anyone, without a token (public: no personal data)', async () => {
    const answer = await api.call<{ rows: unknown[] }>('GET', '/board', undefined, null);
    expect(answer.status).toBe(200);
    expect(JSON.stringify(answer.body)).not.toMatch(/customer|email|name/i);
  });
});

describe('the wallet: only the right callers', () => {
  let ada: ApiClient;
  let bob: ApiClient;
  let desk: ApiClient;
  let adaAccount: string;
  let bobAccount: string;

  beforeAll(async () => {
    ada = await walletAs('access-ada');
    bob = await walletAs('access-bob');
    desk = new ApiClient(ada.apiUrl, await fraudOperator());
    adaAccount = unique('ada');
    bobAccount = unique('bob');
    expect(await ada.call('POST', '/accounts', { accountId: adaAccount, holderName: 'Ada Lovelace', currency: 'EUR' })).toMatchObject({ status: 201 });
    expect(await ada.call('POST', `/accounts/${adaAccount}/transactions`, { transactionId: unique('tx'), amount: { amount: 5_000, currency: 'EUR' } })).toMatchObject({ status: 201 });
    expect(await bob.call('POST', '/accounts', { accountId: bobAccount, holderName: 'Bob', currency: 'EUR' })).toMatchObject({ status: 201 });
  });

  it('answers 401 to every route without a token, or with a token of the coffee shop’s user pool', async () => {
    const stranger = await coffeeUsers().user('access-wallet-stranger', ['customer', 'operator']);
    for (const route of nonPublic(WALLET_ACCESS)) {
      for (const as of [null, stranger]) {
        const answer = await ada.call(methodOf(route), pathOf(route, adaAccount), methodOf(route) === 'POST' ? {} : undefined, as);
        expect({ route, status: answer.status }).toEqual({ route, status: 401 });
      }
    }
    expect(nonPublic(WALLET_ACCESS)).toEqual(Object.keys(WALLET_ACCESS));
  });

  it('keeps a holder out of another holder’s account: reading, adding a transaction, transferring from it, reading its transfer are 404, and nothing moves', async () => {
    const before = await ada.call<{ balance: number; version: number }>('GET', `/accounts/${adaAccount}`);
    expect(before).toMatchObject({ status: 200, body: { balance: 5_000 } });

    const answers: Record<string, ApiAnswer> = {
      read: await bob.call('GET', `/accounts/${adaAccount}`),
      transact: await bob.call('POST', `/accounts/${adaAccount}/transactions`, { transactionId: unique('tx'), amount: { amount: -4_000, currency: 'EUR' } }),
      transfer: await bob.call('POST', '/transfers', { transferId: unique('steal'), from: adaAccount, to: bobAccount, amount: { amount: 4_000, currency: 'EUR' } }),
      reopen: await bob.call('POST', '/accounts', { accountId: adaAccount, holderName: 'Ada Lovelace', currency: 'EUR' }),
    };
    expect(Object.fromEntries(Object.entries(answers).map(([what, answer]) => [what, answer.status]))).toEqual({ read: 404, transact: 404, transfer: 404, reopen: 409 });
    expect(answers.read!.body).toEqual({ error: 'AccountNotFound', message: `there is no account ${adaAccount}` });

    const transferId = unique('xfer');
    expect(await ada.call('POST', '/transfers', { transferId, from: adaAccount, to: bobAccount, amount: { amount: 1_000, currency: 'EUR' } })).toMatchObject({ status: 202 });
    expect(await bob.call('GET', `/transfers/${transferId}`)).toMatchObject({ status: 404 });
    expect(await ada.call('GET', `/transfers/${transferId}`)).toMatchObject({ status: 200, body: { transferId } });

    const after = await ada.call<{ balance: number; version: number }>('GET', `/accounts/${adaAccount}`);
    expect(after.body.version).toBeGreaterThanOrEqual(before.body.version);
    await eventually(() => ada.call<{ status: string }>('GET', `/transfers/${transferId}`), (t) => t.body.status === 'completed', { what: `transfer ${transferId} completed`, timeoutMs: 90_000 });
    expect((await ada.call<{ balance: number }>('GET', `/accounts/${adaAccount}`)).body.balance).toBe(4_000);
  });

  it('lets only a fraud operator clear a flag, as themselves (no clearedBy in the body), and read any account', async () => {
    expect(await ada.call('POST', `/accounts/${adaAccount}/clear`, {})).toMatchObject({ status: 403, body: { error: 'Forbidden', message: expect.stringMatching(/is for fraud-operator/) } });
    expect(await desk.call('POST', `/accounts/${adaAccount}/clear`, { clearedBy: 'someone-else' })).toMatchObject({ status: 400, body: { error: 'InvalidCommand' } });
    // the account is not flagged: the operator got through the door, and the domain says why not
    expect(await desk.call('POST', `/accounts/${adaAccount}/clear`, {})).toMatchObject({ status: 409, body: { error: 'NotFlagged' } });
    expect(await desk.call('GET', `/accounts/${adaAccount}`)).toMatchObject({ status: 200 });
    expect(await desk.call('POST', '/accounts', { accountId: unique('desk'), holderName: 'Desk', currency: 'EUR' })).toMatchObject({ status: 403 });
  });
});
