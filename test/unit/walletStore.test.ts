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
});
