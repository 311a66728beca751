// Test-only: wallet accounts and transfers between them, as the system runs them: the transfer
// saga's real core (`advance` with the wallet's `transferSaga`) sends the wallet's command queue
// its step commands and arms its timers; the wallet applies each command as its command handler
// does (the decider; a refused step recorded as its refusal event) and its events go back to the
// saga. Every message — command, event, timer — is delivered when the test says, in any order,
// duplicated or late, as at-least-once queues may.
import { advance, stepEventTypes, type OutgoingCommand, type SagaAdvance, type SagaInput, type SagaState, type SagaTimer } from '../../functions/toolkit/saga';
import { transferSaga, type TransferInput } from '../../functions/wallet/transferSaga';
import type { Currency } from '../../functions/wallet/schemas';
import { available, initialWallet, type WalletCommand, type WalletState } from '../../functions/wallet/wallet';
import { applyCommand } from './walletHistories';

export type Message =
  | { readonly kind: 'command'; readonly command: OutgoingCommand; readonly sentAt: number }
  | { readonly kind: 'event'; readonly id: string; readonly type: string; readonly data: Readonly<Record<string, unknown>> }
  | { readonly kind: 'timer'; readonly id: string; readonly timer: SagaTimer };

const STEP_EVENTS = new Set(stepEventTypes(transferSaga));
const FORWARD_STEPS = new Set(['ReserveFunds', 'CreditTransfer', 'ConfirmReservation']);

export class TransferWorld {
  now = Date.parse('2026-11-23T10:00:00.000Z');
  readonly accounts = new Map<string, WalletState>();
  readonly sagas = new Map<string, SagaState<TransferInput>>();
  readonly inFlight: Message[] = [];
  /** Commands the wallet refused and could not record as a refusal: they would end in the dead-letter queue. */
  readonly deadLetters: OutgoingCommand[] = [];
  /** Money that came from outside: every transaction added, by account. */
  readonly external = new Map<string, number>();
  readonly trace: string[] = [];
  private ids = 0;

  private at(): string {
    return new Date(this.now).toISOString();
  }

  private wallet(command: WalletCommand) {
    const result = applyCommand(this.accounts.get(command.accountId) ?? initialWallet, command);
    this.accounts.set(command.accountId, result.after);
    for (const event of result.events) {
      if (event.type === 'wallet.transaction.added') this.external.set(command.accountId, (this.external.get(command.accountId) ?? 0) + event.data.amount.amount);
      if (STEP_EVENTS.has(event.type)) this.inFlight.push({ kind: 'event', id: `ev-${++this.ids}`, type: event.type, data: event.data as unknown as Record<string, unknown> });
    }
    return result;
  }

  open(accountId: string, funds: number, currency: Currency = 'EUR'): void {
    this.wallet({ kind: 'OpenAccount', accountId, holderName: 'pd1:sealed', currency, at: this.at() });
    if (funds > 0) this.wallet({ kind: 'AddTransaction', accountId, transactionId: `fund-${accountId}`, amount: { amount: funds, currency }, at: this.at() });
  }

  /** The holder spends (a debit of their own); refused as the API would refuse it. */
  spend(accountId: string, amount: number): void {
    const currency = this.accounts.get(accountId)?.currency ?? 'EUR';
    const { rejection } = this.wallet({ kind: 'AddTransaction', accountId, transactionId: `spend-${++this.ids}`, amount: { amount: -amount, currency }, at: this.at() });
    this.trace.push(`${accountId} spends ${amount}${rejection ? `: refused ${rejection.code}` : ''}`);
  }

  flag(accountId: string): void {
    this.wallet({ kind: 'FlagAccount', accountId, reason: 'test', fraudEventId: `f-${++this.ids}`, at: this.at() });
    this.trace.push(`${accountId} flagged`);
  }

  clear(accountId: string): void {
    if (this.accounts.get(accountId)?.flagged) this.wallet({ kind: 'ClearAccount', accountId, clearedBy: 'ops', at: this.at() });
    this.trace.push(`${accountId} cleared`);
  }

  start(transferId: string, input: TransferInput): void {
    this.trace.push(`start ${transferId}: ${input.from} → ${input.to} ${input.amount.amount}`);
    this.advance(transferId, { kind: 'start', id: `start-${transferId}`, sagaId: transferId, input, at: new Date(this.now) });
  }

  private advance(sagaId: string, input: SagaInput<TransferInput>): void {
    const result: SagaAdvance<TransferInput> = advance(transferSaga, this.sagas.get(sagaId), input);
    const effects = result.outcome === 'advanced' ? result.effects : result.resend;
    if (result.outcome === 'advanced') this.sagas.set(sagaId, result.state);
    for (const command of effects.commands) this.inFlight.push({ kind: 'command', command, sentAt: this.now });
    for (const timer of effects.timers) this.inFlight.push({ kind: 'timer', id: `timer-${++this.ids}`, timer });
  }

  /**
   * Whether delivering `message` now stays within what the model allows. A timer of a step without
   * compensation (the confirmation, the pivot) is not delivered while the saga still waits for that
   * step: a pivot that keeps timing out ends the saga `failed` for an operator, which this world's
   * property does not model (the saga's own property tests, transferSaga.test.ts, do).
   */
  deliverable(message: Message): boolean {
    if (message.kind !== 'timer') return true;
    const waiting = this.sagas.get(message.timer.sagaId)?.waiting;
    const pivot = transferSaga.steps.find((s) => s.name === message.timer.step)?.compensate === undefined;
    return !(pivot && message.timer.phase === 'forward' && waiting?.step === message.timer.step && waiting.phase === 'forward');
  }

  /** Delivers `message` (keeping it in flight to be delivered again when `duplicate`). */
  deliver(message: Message, duplicate = false): void {
    if (!duplicate) this.inFlight.splice(this.inFlight.indexOf(message), 1);
    switch (message.kind) {
      case 'command': {
        const { command } = message;
        const walletCommand = { kind: command.type, ...command.data, at: this.at() } as WalletCommand;
        const { rejection, events } = this.wallet(walletCommand);
        this.trace.push(`wallet ${command.type} ${command.sagaId} on ${String(command.data.accountId)}: ${rejection ? `refused ${rejection.code}` : events.map((e) => e.type).join(', ') || 'nothing'}`);
        // A rejection the handler cannot record as a refusal is retried, then dead-lettered.
        if (rejection && !FORWARD_STEPS.has(command.type)) this.deadLetters.push(command);
        return;
      }
      case 'event': {
        const sagaId = String(message.data.transferId);
        this.trace.push(`saga ${sagaId} hears ${message.type}`);
        this.advance(sagaId, { kind: 'event', id: message.id, sagaId, type: message.type, data: message.data, at: new Date(this.now) });
        return;
      }
      case 'timer': {
        const { timer } = message;
        this.now = Math.max(this.now, timer.dueAt);
        this.trace.push(`saga ${timer.sagaId} timer ${timer.step}/${timer.phase}/${timer.attempt}`);
        this.advance(timer.sagaId, { kind: 'timeout', id: message.id, sagaId: timer.sagaId, step: timer.step, phase: timer.phase, attempt: timer.attempt, dueAt: timer.dueAt, at: new Date(this.now) });
        return;
      }
    }
  }

  /** Delivers everything still in flight: messages first, in the order they were sent, then timers by due time. */
  drain(limit = 10_000): void {
    for (let n = 0; this.inFlight.length > 0; n++) {
      if (n > limit) throw new Error(`still ${this.inFlight.length} messages in flight after ${limit} deliveries`);
      const next = this.inFlight.find((m) => m.kind !== 'timer') ?? [...this.inFlight].sort((a, b) => (a.kind === 'timer' && b.kind === 'timer' ? a.timer.dueAt - b.timer.dueAt : 0))[0]!;
      this.deliver(next);
    }
  }

  balance(accountId: string): number {
    return this.accounts.get(accountId)?.balance ?? 0;
  }

  available(accountId: string): number {
    return available(this.accounts.get(accountId) ?? initialWallet);
  }
}
