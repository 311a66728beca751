import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { DomainRejection, EventStore, type DomainEvent, type Emitted } from '../../functions/toolkit/eventsource';
import { WALLET_SOURCE } from '../../functions/wallet/schemas';
import { evolveWallet, initialWallet, type WalletEvent, type WalletState } from '../../functions/wallet/wallet';
import { walletStore, WalletStateSchema } from '../../functions/wallet/walletStore';
import { ledger, LEDGER_SOURCE, LedgerEventSchemas, LedgerStateSchema, type LedgerCommand, type LedgerEvent } from '../integration/eventstore/ledger';
import { FakeTable } from './FakeTable';
import { ACCOUNT, history, runHistory } from './walletHistories';

// Every event-sourced aggregate's state survives its snapshot: state → JSON → the state schema (as
// EventStore writes and reads a snapshot) gives the state back, and a load from the snapshot plus
// the events after it equals the fold of every event. (The saga test ledger is state-stored, not
// event-sourced: its state is an item, not a fold, so it has no snapshot.)

/** What `EventStore` does to a state between the snapshot it writes and the one it reads. */
const throughSnapshot = <S>(schema: z.ZodType<S>, state: S): S => schema.parse(JSON.parse(JSON.stringify(state)));

/**
 * Appends `decisions` to a stream one at a time through a real `EventStore` over an in-memory table
 * (snapshots every `every` events), then loads it with a fresh store: the load must equal the fold.
 */
async function appendAndLoad<C, S, E extends DomainEvent>(
  make: (table: FakeTable) => EventStore<C, S, E>,
  evolve: (state: S, event: E) => S,
  initial: S,
  streamId: string,
  decisions: readonly (readonly Emitted<E>[])[],
) {
  const table = new FakeTable(8);
  const writer = make(table);
  let [state, version] = [initial, 0];
  for (const events of decisions) {
    if (events.length === 0) continue;
    await writer.append(streamId, version, events, { state });
    [state, version] = [events.reduce(evolve, state), version + events.length];
  }
  return { table, loaded: await make(table).load(streamId), log: table.log(streamId) };
}

describe('snapshot round trip: the wallet', () => {
  it('every state of a generated history comes back from its snapshot unchanged', () => {
    fc.assert(
      fc.property(history(), (steps) => {
        for (const { after } of runHistory(steps).steps) expect(throughSnapshot(WalletStateSchema, after)).toEqual(after);
      }),
    );
  });

  it('snapshot + tail equals the full fold, at any snapshot point', () => {
    fc.assert(
      fc.property(history(), fc.nat(), (steps, cut) => {
        const { events, state } = runHistory(steps);
        const at = events.length === 0 ? 0 : cut % (events.length + 1);
        const snapshot = throughSnapshot(WalletStateSchema, events.slice(0, at).reduce<WalletState>((s, e) => evolveWallet(s, e), initialWallet));
        expect(events.slice(at).reduce<WalletState>((s, e) => evolveWallet(s, e), snapshot)).toEqual(state);
      }),
    );
  });

  it('through the event store: appended one decision at a time, snapshotted every 20 events, a cold load equals the fold', async () => {
    await fc.assert(
      fc.asyncProperty(history({ minLength: 40, maxLength: 80 }), async (steps) => {
        const run = runHistory(steps);
        const { loaded, log } = await appendAndLoad((table) => walletStore(table.dynamodb, undefined, { tableName: 'wallet', source: WALLET_SOURCE }), evolveWallet, initialWallet, ACCOUNT, run.steps.map((step) => step.events));
        expect(loaded.version).toBe(log.length);
        if (log.length >= 20) expect(loaded.snapshotAt).toBeGreaterThan(0);
        expect(loaded.state).toEqual(run.state);
      }),
      { numRuns: 30 },
    );
  });
});

describe('snapshot round trip: the event store’s test ledger', () => {
  const command: fc.Arbitrary<LedgerCommand> = fc.oneof(
    fc.record({ kind: fc.constant('deposit' as const), amount: fc.integer({ min: 1, max: 1_000 }) }),
    fc.record({ kind: fc.constant('withdraw' as const), amount: fc.integer({ min: 1, max: 1_000 }) }),
  );
  const decisions = (commands: readonly LedgerCommand[]) => {
    let state = ledger.initialState;
    const out: Emitted<LedgerEvent>[][] = [];
    for (const c of [{ kind: 'open', holder: 'pd1:sealed', at: new Date(0).toISOString() } as const, ...commands]) {
      try {
        const events = [...ledger.decide(c, state)];
        out.push(events);
        state = events.reduce(ledger.evolve, state);
      } catch (error) {
        if (!(error instanceof DomainRejection)) throw error;
      }
    }
    return { out, state };
  };
  const store = (table: FakeTable, snapshotEvery: number) =>
    new EventStore({ client: table.dynamodb, tableName: 'ledger', source: LEDGER_SOURCE, decider: ledger, events: LedgerEventSchemas, state: LedgerStateSchema, snapshotEvery });

  it('every state comes back from its snapshot, and a cold load (snapshot + tail) equals the fold', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { maxLength: 40 }), fc.integer({ min: 1, max: 7 }), async (commands, every) => {
        const { out, state } = decisions(commands);
        let s = ledger.initialState;
        for (const event of out.flat()) {
          s = ledger.evolve(s, event);
          expect(throughSnapshot(LedgerStateSchema, s)).toEqual(s);
        }
        const { loaded } = await appendAndLoad((table) => store(table, every), ledger.evolve, ledger.initialState, 'l-1', out);
        expect(loaded.state).toEqual(state);
      }),
      { numRuns: 40 },
    );
  });
});
