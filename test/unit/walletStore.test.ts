import { describe, expect, it } from 'vitest';
import { WALLET_SOURCE } from '../../functions/wallet/schemas';
import type { WalletCommand } from '../../functions/wallet/wallet';
import { walletStore } from '../../functions/wallet/walletStore';
import { FakeTable } from './FakeTable';

const AT = '2026-11-23T10:00:00.000Z';
const eur = (amount: number) => ({ amount, currency: 'EUR' as const });
const store = (table: FakeTable) => walletStore(table.dynamodb, undefined, { tableName: 'wallet', source: WALLET_SOURCE });
const add = (transactionId: string, amount: number): WalletCommand => ({ kind: 'AddTransaction', accountId: 'a-1', transactionId, amount: eur(amount), at: AT });

describe('the wallet’s event store', () => {
  it('given a transaction added before a snapshot, when the client retries it after the snapshot, then nothing is added', async () => {
    // arrange: t-1, then enough transactions that the stream is snapshotted (every 20 events)
    const table = new FakeTable(100);
    const wallet = store(table);
    await wallet.handle('a-1', { kind: 'OpenAccount', accountId: 'a-1', holderName: 'pd1:sealed', currency: 'EUR', at: AT });
    await wallet.handle('a-1', add('t-1', 1_000));
    for (let i = 2; i <= 21; i++) await wallet.handle('a-1', add(`t-${i}`, 1));
    const before = await wallet.load('a-1');
    expect(before.snapshotAt).toBe(20);

    // act: the client's retry of t-1 (its first answer was lost)
    const retried = await wallet.handle('a-1', add('t-1', 1_000));

    // assert
    expect(retried.events).toEqual([]);
    expect(retried.state.balance).toBe(1_020);
    expect((await wallet.load('a-1')).version).toBe(before.version);
  });

  it('given a snapshot of version 1 (which lost the recent transactions), when the account is loaded, then it is ignored: the fold starts at the first event and a retry is still recognised', async () => {
    // arrange: 20 events, then the snapshot as version 1 wrote it (no recent transactions)
    const table = new FakeTable(100);
    const wallet = store(table);
    await wallet.handle('a-1', { kind: 'OpenAccount', accountId: 'a-1', holderName: 'pd1:sealed', currency: 'EUR', at: AT });
    for (let i = 1; i <= 19; i++) await wallet.handle('a-1', add(`t-${i}`, 1));
    const { recentTransactions: _lost, ...lossy } = (await wallet.load('a-1')).state;
    table.put({ pk: 'STREAM#a-1', sk: 'SNAPSHOT', version: 20, state: JSON.stringify({ ...lossy, balance: 0 }), snapshotVersion: 1 });

    // act
    const loaded = await wallet.load('a-1');
    const retried = await wallet.handle('a-1', add('t-1', 1));

    // assert
    expect(loaded).toMatchObject({ snapshotAt: 0, eventsRead: 20, state: { balance: 19 } });
    expect(retried.events).toEqual([]);
  });
});
