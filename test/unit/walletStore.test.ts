import { describe, expect, it } from 'vitest';
import type { Emitted } from '../../functions/toolkit/eventsource';
import { TRANSACTION_LIMITS } from '../../functions/toolkit/outbox/planCommit';
import { WALLET_SOURCE } from '../../functions/wallet/schemas';
import * as limits from '../../functions/wallet/wallet';
import { decideWallet, evolveWallet, initialWallet, type WalletCommand, type WalletEvent, type WalletState } from '../../functions/wallet/wallet';
import { walletStore, WalletStateSchema } from '../../functions/wallet/walletStore';
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

  it('given an account opened by a signed-in holder, when it is loaded (folded, or from a snapshot), then it still knows its holder', async () => {
    // arrange
    const table = new FakeTable(100);
    const wallet = store(table);
    await wallet.handle('a-1', { kind: 'OpenAccount', accountId: 'a-1', holderName: 'pd1:sealed-name', holderUserId: 'pd1:sealed-user', currency: 'EUR', at: AT });
    const folded = await wallet.load('a-1');
    for (let i = 1; i <= 20; i++) await wallet.handle('a-1', add(`t-${i}`, 1));

    // act
    const snapshotted = await wallet.load('a-1');

    // assert: the holder id went through the stored event's schema (v2) and the snapshot's
    expect(folded.state.holderUserId).toBe('pd1:sealed-user');
    expect(snapshotted.snapshotAt).toBe(20);
    expect(snapshotted.state.holderUserId).toBe('pd1:sealed-user');
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

describe('the wallet’s state stays writable, whatever the account has done', () => {
  it('an account with 10,000 transfers still loads and writes: folded, snapshotted and appended, its snapshot under the item limit', async () => {
    // arrange: 10,000 transfers of 1.00, one every 15 minutes (104 days), alternately out of and into the account
    const T = Date.parse('2026-01-01T00:00:00.000Z');
    const at = (n: number) => new Date(T + n * 900_000).toISOString();
    let state: WalletState = initialWallet;
    const events: Emitted<WalletEvent>[] = [];
    /** The state before each chunk of 90 events: what an append of the chunk starts from. */
    const before = new Map<number, WalletState>([[0, initialWallet]]);
    const run = (command: WalletCommand) => {
      for (const event of decideWallet(command, state)) {
        state = evolveWallet(state, event);
        events.push(event);
        if (events.length % 90 === 0) before.set(events.length, state);
      }
    };
    run({ kind: 'OpenAccount', accountId: 'a-1', holderName: 'pd1:sealed', currency: 'EUR', at: at(0) });
    run({ kind: 'AddTransaction', accountId: 'a-1', transactionId: 'funding', amount: eur(10_000_000), at: at(0) });
    for (let i = 1; i <= 10_000; i++) {
      const transfer = { accountId: 'a-1', transferId: `transfer-${String(i).padStart(27, '0')}`, amount: eur(100), at: at(i) };
      if (i % 2 === 0) {
        run({ kind: 'ReserveFunds', ...transfer });
        run({ kind: 'ConfirmReservation', ...transfer });
      } else run({ kind: 'CreditTransfer', ...transfer });
    }
    expect(state.balance).toBe(10_000_000);

    // act: every event appended through the event store (90 a transaction, a snapshot every 20), a cold load, one more transfer
    const table = new FakeTable(1_000);
    const wallet = store(table);
    for (let version = 0; version < events.length; version += 90) await wallet.append('a-1', version, events.slice(version, version + 90), { state: before.get(version)! });
    const loaded = await store(table).load('a-1');
    const next = await wallet.handle('a-1', { kind: 'ReserveFunds', accountId: 'a-1', transferId: 'transfer-next', amount: eur(100), at: at(10_001) });

    // assert
    expect(loaded).toMatchObject({ version: events.length, state });
    expect(loaded.eventsRead).toBeLessThan(20);
    expect(next.events.map((e) => e.type)).toEqual(['wallet.funds.reserved']);
    const snapshot = String(table.get('STREAM#a-1', 'SNAPSHOT')?.state);
    expect(Buffer.byteLength(snapshot)).toBeLessThan(TRANSACTION_LIMITS.maxItemBytes / 2);
  });

  it('a state at every limit (longest ids, largest amounts, every memory full) fits one DynamoDB item as a snapshot', () => {
    // arrange
    const id = (prefix: string, i: number, length = 64) => `${prefix}${String(i).padStart(length - prefix.length, '0')}`;
    const at = Date.parse('2026-11-23T10:00:00.000Z');
    const worst: WalletState = {
      opened: true,
      currency: 'EUR',
      balance: limits.MAX_BALANCE,
      reserved: Object.fromEntries(Array.from({ length: limits.MAX_OPEN_RESERVATIONS }, (_, i) => [id('r', i), limits.MAX_AMOUNT])),
      credited: Array.from({ length: limits.MAX_REMEMBERED_CREDITS }, (_, i) => ({ transferId: id('c', i), amount: limits.MAX_AMOUNT, at })),
      settled: Array.from({ length: limits.MAX_REMEMBERED_SETTLED }, (_, i) => ({ transferId: id('s', i), outcome: 'confirmed' as const, at })),
      forgottenUntil: at,
      clock: at,
      flagged: { reason: 'r'.repeat(500), fraudEventId: 'f'.repeat(128) },
      recentTransactions: Array.from({ length: limits.RECENT_TRANSACTIONS }, (_, i) => ({ transactionId: id('t', i), amount: -limits.MAX_AMOUNT, currency: 'EUR' as const, payeeCountry: 'NL' })),
    };

    // act
    const json = JSON.stringify(worst);

    // assert: it survives the snapshot, with room left in the item for its keys and attributes
    expect(WalletStateSchema.parse(JSON.parse(json))).toEqual(worst);
    expect(Buffer.byteLength(json)).toBeLessThan(TRANSACTION_LIMITS.maxItemBytes - 16 * 1024);
  });

  it('given a fraud detection with a long detail, when the account is flagged, then its event stays within the published schema (the reason is cut to 500 characters)', async () => {
    const table = new FakeTable(100);
    const wallet = store(table);
    await wallet.handle('a-1', { kind: 'OpenAccount', accountId: 'a-1', holderName: 'pd1:sealed', currency: 'EUR', at: AT });

    const handled = await wallet.handle('a-1', { kind: 'FlagAccount', accountId: 'a-1', reason: `velocity: ${'x'.repeat(1_000)}`, fraudEventId: 'f-1', at: AT });

    expect(handled.events.map((e) => e.type)).toEqual(['wallet.account.flagged']);
    expect((handled.events[0]!.data as { reason: string }).reason).toHaveLength(500);
  });
});
