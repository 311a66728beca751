import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DomainRejection } from '../../functions/toolkit/eventsource';
import { advance, sagaEventTypes, type OutgoingCommand, type SagaEffects, type SagaInput, type SagaState, type SagaTimer } from '../../functions/toolkit/saga';
import type { Currency } from '../../functions/wallet/schemas';
import { TransferInput as TransferInputSchema, transferSaga, type TransferInput } from '../../functions/wallet/transferSaga';
import { available, decideWallet, evolveWallet, initialWallet, refuseTransferStep, TRANSFER_REFUSALS, type WalletCommand, type WalletEvent, type WalletState } from '../../functions/wallet/wallet';

// Property-based tests of the wallet's transfer saga: its pure core (`advance`) driven together with
// two wallet accounts that answer its commands with the wallet's own decider (the rules of
// functions/wallet/wallet.ts: every attempt answered, a repeated step answered again, compensations
// idempotent and remembered, a step arriving after its compensation refused), under generated
// schedules — deliveries reordered, duplicated and delayed past timers, timers firing early or late,
// refusals (insufficient funds, a flagged source, a target in another currency), the source flagged,
// cleared and funded while the transfer runs. Once everything has been delivered (quiet), the money
// is accounted for and the saga has ended exactly once.

const T0 = new Date('2026-01-01T10:00:00.000Z').getTime();
const SAGA_ID = 'tr-prop-1';
const SOURCE = 'acct-source';
const TARGET = 'acct-target';
const OWN = sagaEventTypes(transferSaga.name);
const TERMINAL_EVENTS = new Set<string>([OWN.completed, OWN.compensated, OWN.failed]);
/** Property runs per property; a failure prints its seed and path (replay with `{ seed, path }`). */
const RUNS = 1_000;

/** A message on its way: a command to the wallet's queue, or an answer or a timer to the saga's queue. */
type Message =
  | { readonly kind: 'command'; readonly command: OutgoingCommand }
  | { readonly kind: 'answer'; readonly id: string; readonly type: string; readonly data: Readonly<Record<string, unknown>>; readonly commandId: string }
  | { readonly kind: 'timer'; readonly id: string; readonly timer: SagaTimer };

/** What the schedule does next. */
type Action =
  /**
   * Delivers the `pick`-th message on its way (modulo how many there are; of the timers only, when
   * `timer`: answers delayed past their timers); `duplicate` leaves a copy to be delivered again; a
   * timer fires `skew` seconds from its due time (early or late).
   */
  | { readonly kind: 'deliver'; readonly pick: number; readonly timer: boolean; readonly duplicate: boolean; readonly skew: number }
  | { readonly kind: 'flag' }
  | { readonly kind: 'clear' }
  | { readonly kind: 'deposit'; readonly amount: number };

interface Setup {
  /** The source's opening balance (minor units). */
  readonly balance: number;
  readonly amount: number;
  readonly targetCurrency: Currency;
  readonly sourceFlagged: boolean;
}

/**
 * The two accounts, decided by the wallet's decider as its command handler does: a refused transfer
 * step is recorded as its refusal event; a command id is applied once (the handler's inbox), so a
 * redelivered command changes and answers nothing more — every new attempt is a new command id.
 */
class Wallet {
  readonly accounts = new Map<string, WalletState>();
  private readonly inbox = new Set<string>();
  private transactions = 0;
  /** Money that entered the accounts from outside (opening balance, deposits). */
  deposited = 0;
  /** The transfer's reservation was confirmed while open: the money left the source. */
  confirmed = false;

  constructor(setup: Setup) {
    this.run(SOURCE, { kind: 'OpenAccount', accountId: SOURCE, holderName: 'Ada', currency: 'EUR', at: iso(T0) });
    this.run(TARGET, { kind: 'OpenAccount', accountId: TARGET, holderName: 'Bob', currency: setup.targetCurrency, at: iso(T0) });
    if (setup.balance > 0) this.deposit(setup.balance, T0);
    if (setup.sourceFlagged) this.flag(T0);
  }

  deposit(amount: number, now: number): void {
    this.run(SOURCE, { kind: 'AddTransaction', accountId: SOURCE, transactionId: `tx-${++this.transactions}`, amount: { amount, currency: 'EUR' }, at: iso(now) });
    this.deposited += amount;
  }

  flag(now: number): void {
    this.run(SOURCE, { kind: 'FlagAccount', accountId: SOURCE, reason: 'velocity', fraudEventId: 'fraud-1', at: iso(now) });
  }

  clear(now: number): void {
    if (this.accounts.get(SOURCE)?.flagged) this.run(SOURCE, { kind: 'ClearAccount', accountId: SOURCE, clearedBy: 'operator', at: iso(now) });
  }

  /** Applies a saga command (once per command id) and returns the events that answer it. */
  apply(command: OutgoingCommand, now: number): WalletEvent[] {
    if (this.inbox.has(command.commandId)) return [];
    this.inbox.add(command.commandId);
    const data = command.data as { transferId: string; accountId: string; amount: { amount: number; currency: Currency } };
    const step = { kind: command.type, ...data, at: iso(now) } as WalletCommand & { kind: keyof typeof TRANSFER_REFUSALS };
    try {
      return this.run(data.accountId, step);
    } catch (error) {
      if (!(error instanceof DomainRejection) || !(step.kind in TRANSFER_REFUSALS)) throw error;
      const refusal = refuseTransferStep(step, error.code, error.message) as WalletEvent[];
      this.evolve(data.accountId, refusal);
      return refusal;
    }
  }

  private run(accountId: string, command: WalletCommand): WalletEvent[] {
    const events = decideWallet(command, this.accounts.get(accountId) ?? initialWallet) as WalletEvent[];
    this.evolve(accountId, events);
    return events;
  }

  private evolve(accountId: string, events: WalletEvent[]): void {
    for (const event of events) {
      const state = this.accounts.get(accountId) ?? initialWallet;
      if (event.type === 'wallet.funds.reservation.confirmed' && event.data.transferId in state.reserved) this.confirmed = true;
      this.accounts.set(accountId, evolveWallet(state, event));
    }
  }

  get source(): WalletState {
    return this.accounts.get(SOURCE)!;
  }

  get target(): WalletState {
    return this.accounts.get(TARGET)!;
  }
}

const iso = (ms: number) => new Date(ms).toISOString();
const isPivot = (step: string) => transferSaga.steps.find((s) => s.name === step)?.compensate === undefined;

/** One transfer saga and the wallet under a schedule: what happened, for the properties to judge. */
class Simulation {
  readonly wallet: Wallet;
  state: SagaState<TransferInput> | undefined;
  readonly inFlight: Message[] = [];
  readonly ownEvents: string[] = [];
  /** Attempts of a pivot step sent so far, and those the saga has heard refused. */
  private readonly pivotAttemptsSent = new Set<string>();
  private readonly pivotAttemptsRefused = new Set<string>();
  /** Compensations sent while a pivot's attempt might still happen (must stay empty). */
  readonly compensatedAfterPivot: string[] = [];
  private now = T0;
  private ids = 0;

  constructor(readonly setup: Setup) {
    this.wallet = new Wallet(setup);
    const input: TransferInput = { from: SOURCE, to: TARGET, amount: { amount: setup.amount, currency: 'EUR' } };
    this.toSaga({ kind: 'start', id: 'start-1', sagaId: SAGA_ID, input, at: new Date(T0) });
  }

  act(action: Action): void {
    if (action.kind === 'flag') return this.wallet.flag(this.now);
    if (action.kind === 'clear') return this.wallet.clear(this.now);
    if (action.kind === 'deposit') return this.wallet.deposit(action.amount, this.now);
    const candidates = this.inFlight.flatMap((message, index) => (!action.timer || message.kind === 'timer' ? [index] : []));
    if (candidates.length === 0) return;
    const index = candidates[action.pick % candidates.length]!;
    const message = this.inFlight[index]!;
    if (!action.duplicate) this.inFlight.splice(index, 1);
    this.deliver(message, action.skew);
  }

  /** Delivers the oldest message of a kind now (e.g. to walk the happy path to a step). */
  deliverOldest(kind: Message['kind']): void {
    const index = this.inFlight.findIndex((message) => message.kind === kind);
    if (index < 0) throw new Error(`no ${kind} on its way`);
    this.deliver(this.inFlight.splice(index, 1)[0]!, 0);
  }

  /** Delivers everything still on its way, oldest first, each timer when due: the system goes quiet. */
  settle(): void {
    for (let deliveries = 0; this.inFlight.length > 0; deliveries++) {
      if (deliveries > 10_000) throw new Error('the saga and the wallet never went quiet');
      this.deliver(this.inFlight.shift()!, 0);
    }
  }

  private deliver(message: Message, skew: number): void {
    if (message.kind === 'command') {
      this.now += 1_000;
      for (const event of this.wallet.apply(message.command, this.now)) {
        this.inFlight.push({ kind: 'answer', id: `event-${++this.ids}`, type: event.type, data: event.data as Record<string, unknown>, commandId: message.command.commandId });
      }
      return;
    }
    if (message.kind === 'answer') {
      this.now += 1_000;
      const { commandId } = message;
      const refusedPivot = Object.values(TRANSFER_REFUSALS).includes(message.type as never) && this.pivotAttemptsSent.has(commandId);
      if (refusedPivot) this.pivotAttemptsRefused.add(commandId);
      return this.toSaga({ kind: 'event', id: message.id, sagaId: SAGA_ID, type: message.type, data: message.data, at: new Date(this.now) });
    }
    const { timer } = message;
    this.now = Math.max(this.now, timer.dueAt + skew * 1_000);
    this.toSaga({ kind: 'timeout', id: message.id, sagaId: SAGA_ID, step: timer.step, phase: timer.phase, attempt: timer.attempt, dueAt: timer.dueAt, at: new Date(this.now) });
  }

  private toSaga(input: SagaInput<TransferInput>): void {
    const result = advance(transferSaga, this.state, input);
    if (result.outcome === 'ignored') return this.send(result.resend);
    this.state = result.state;
    this.ownEvents.push(...result.events.map((e) => e.type));
    this.send(result.effects);
  }

  private send(effects: SagaEffects): void {
    for (const command of effects.commands) {
      if (command.phase === 'forward' && isPivot(command.step)) this.pivotAttemptsSent.add(command.commandId);
      if (command.phase === 'compensation') {
        // With refusalsAreFinal, once one attempt of the pivot was refused no later one can apply.
        const mayHappen = transferSaga.refusalsAreFinal && this.pivotAttemptsRefused.size > 0 ? [] : [...this.pivotAttemptsSent].filter((id) => !this.pivotAttemptsRefused.has(id));
        if (mayHappen.length > 0) this.compensatedAfterPivot.push(`${command.commandId} while ${mayHappen.join(', ')} may happen`);
      }
      this.inFlight.push({ kind: 'command', command });
    }
    for (const timer of effects.timers) this.inFlight.push({ kind: 'timer', id: `timer-${++this.ids}`, timer });
  }
}

const setupArb: fc.Arbitrary<Setup> = fc.record({
  balance: fc.integer({ min: 0, max: 3_000 }),
  amount: fc.integer({ min: 1, max: 1_500 }),
  targetCurrency: fc.constantFrom<Currency>('EUR', 'EUR', 'EUR', 'EUR', 'USD'),
  sourceFlagged: fc.constantFrom(false, false, false, false, true),
});
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 20,
    arbitrary: fc.record({
      kind: fc.constant('deliver' as const),
      pick: fc.nat(),
      timer: fc.constantFrom(false, false, true),
      duplicate: fc.boolean(),
      skew: fc.integer({ min: -10, max: 200 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'flag' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deposit' as const), amount: fc.integer({ min: 1, max: 1_000 }) }) },
);
const scheduleArb = fc.array(actionArb, { maxLength: 80 });

/** Runs a schedule to the end and lets everything still on its way arrive. */
function simulate(setup: Setup, schedule: readonly Action[]): Simulation {
  const simulation = new Simulation(setup);
  for (const action of schedule) simulation.act(action);
  simulation.settle();
  return simulation;
}

/** Reserved and credited on the happy path, confirm sent (its timer and the earlier ones on their way); then the schedule. */
function simulateFromConfirm(setup: Setup, schedule: readonly Action[]): Simulation {
  const simulation = new Simulation(setup);
  for (let step = 0; step < 2; step++) {
    simulation.deliverOldest('command');
    simulation.deliverOldest('answer');
  }
  expect(simulation.state?.waiting).toMatchObject({ step: 'confirm', phase: 'forward', attempt: 1 });
  for (const action of schedule) simulation.act(action);
  simulation.settle();
  return simulation;
}

/** The money and the saga's end, as the properties require; throws (with what is wrong) otherwise. */
function expectAccountedFor(simulation: Simulation): void {
  const { wallet, state, setup } = simulation;
  const { source, target } = wallet;
  const reserved = SAGA_ID in source.reserved;
  const credited = target.credited.some((credit) => credit.transferId === SAGA_ID);
  const status = state?.status;

  // Exactly one terminal state, reported by exactly one terminal event.
  expect(['completed', 'compensated', 'failed']).toContain(status);
  expect(simulation.ownEvents.filter((type) => TERMINAL_EVENTS.has(type))).toEqual([`${transferSaga.name}.${status}`]);
  // Nothing compensated while a pivot's attempt might still happen.
  expect(simulation.compensatedAfterPivot).toEqual([]);
  // Money is conserved: what may be spent adds up to what came in (an open reservation is money on its way out).
  expect(available(source) + available(target)).toBe(wallet.deposited);

  if (status === 'completed') {
    expect({ reserved, confirmed: wallet.confirmed, credited }).toEqual({ reserved: false, confirmed: true, credited: true });
    expect([source.balance, target.balance]).toEqual([wallet.deposited - setup.amount, setup.amount]);
  } else if (status === 'compensated') {
    expect({ reserved, confirmed: wallet.confirmed, credited }).toEqual({ reserved: false, confirmed: false, credited: false });
    expect([source.balance, target.balance]).toEqual([wallet.deposited, 0]);
  } else {
    // Failed for an operator: the credit stands, the money is reserved or confirmed — never both, never neither.
    expect(credited).toBe(true);
    expect(reserved !== wallet.confirmed).toBe(true);
  }
}

describe('transfer saga: its input', () => {
  it('takes account ids that are client ids (they become the accounts’ keys), and a transfer id that is one', () => {
    // arrange
    const valid = { from: 'acct-1', to: 'acct-2', amount: { amount: 100, currency: 'EUR' } };

    // act / assert
    expect(TransferInputSchema.safeParse(valid).success).toBe(true);
    for (const id of ['', 'ab', 'has space', 'x'.repeat(65), '-leading', 'a/b']) {
      expect(TransferInputSchema.safeParse({ ...valid, from: id }).success, `from ${JSON.stringify(id)}`).toBe(false);
      expect(TransferInputSchema.safeParse({ ...valid, to: id }).success, `to ${JSON.stringify(id)}`).toBe(false);
      expect(transferSaga.sagaId?.safeParse(id).success, `transferId ${JSON.stringify(id)}`).toBe(false);
    }
    expect(transferSaga.sagaId?.safeParse('tr-20260101-1').success).toBe(true);
  });
});

describe('transfer saga with the wallet (property-based)', () => {
  it('given any schedule of deliveries, duplicates, timers and account changes, then once quiet the money is accounted for and the saga ended exactly once', () => {
    fc.assert(
      fc.property(setupArb, scheduleArb, (setup, schedule) => {
        expectAccountedFor(simulate(setup, schedule));
      }),
      { numRuns: RUNS },
    );
  });

  it('given the transfer at confirm (the pivot), any schedule, then once quiet the money is accounted for and nothing was compensated while a confirm may still apply', () => {
    const fundedSetup = fc.record({
      balance: fc.integer({ min: 1_500, max: 3_000 }),
      amount: fc.integer({ min: 1, max: 1_500 }),
      targetCurrency: fc.constant<Currency>('EUR'),
      sourceFlagged: fc.constant(false),
    });
    fc.assert(
      fc.property(fundedSetup, scheduleArb, (setup, schedule) => {
        expectAccountedFor(simulateFromConfirm(setup, schedule));
      }),
      { numRuns: RUNS },
    );
  });

  // Counterexamples the property found (shrunk), kept as regular tests.
  describe('counterexamples', () => {
    const deliver = (pick: number, skew = 0): Action => ({ kind: 'deliver', pick, timer: false, duplicate: false, skew });

    it('given a reservation refused for want of funds and sent again after its timer, when the funds arrive before the second attempt, then the reservation it makes is released (none stays behind a compensated transfer)', () => {
      // arrange: reserve#1 and its timer on their way
      const setup: Setup = { balance: 0, amount: 1, targetCurrency: 'EUR', sourceFlagged: false };

      // act: (seed -1902203088, shrunk)
      const simulation = simulate(setup, [
        deliver(0), // reserve#1 refused: nothing available
        { kind: 'deposit', amount: 1 },
        deliver(0), // reserve#1's timer: reserve#2 sent
        deliver(1), // reserve#2 reserves (the funds are there now)
        deliver(0), // the refusal of reserve#1 reaches the saga
      ]);

      // assert
      expect(simulation.state?.status).toBe('compensated');
      expect(simulation.wallet.source).toMatchObject({ balance: 1, reserved: {} });
      expectAccountedFor(simulation);
    });

    it('given confirm refused (the source flagged) and sent again after its timer, when the flag is cleared, then the second attempt is refused too (the wallet keeps refusals) and the saga compensates', () => {
      // arrange
      const setup: Setup = { balance: 1_000, amount: 100, targetCurrency: 'EUR', sourceFlagged: false };

      // act
      const simulation = simulate(setup, [
        deliver(0), // reserve#1 → reserved
        deliver(1), // reserved → the saga sends credit#1
        deliver(1), // credit#1 → credited
        deliver(2), // credited → the saga sends confirm#1
        { kind: 'flag' },
        deliver(2), // confirm#1 refused: flagged
        { kind: 'clear' },
        deliver(2), // confirm#1's timer: confirm#2 sent
        deliver(3), // confirm#2 → refused as well: the transfer's confirmation was refused before
        deliver(2), // the refusal of confirm#1 reaches the saga
      ]);

      // assert
      expect(simulation.wallet.confirmed).toBe(false);
      expect(simulation.state).toMatchObject({ status: 'compensated', failure: { step: 'confirm', reason: 'refused' } });
      expectAccountedFor(simulation);
    });
  });
});
