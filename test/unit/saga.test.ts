import { ConditionalCheckFailedException, PutItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { AlreadyAppliedError } from '../../functions/toolkit/inbox';
import * as z from 'zod';
import { buildEvent, newEventId, newTraceparent } from '../../functions/toolkit/envelope';
import {
  advance,
  DEFAULT_STEP_ATTEMPTS,
  defineSaga,
  decodeSagaCommand,
  InMemorySagaMessenger,
  InMemorySagaStore,
  InvalidSagaDefinitionError,
  InvalidSagaMessageError,
  SagaClient,
  SagaConflictError,
  SagaRuntime,
  sagaEventTypes,
  stepEventTypes,
  toCommandMessage,
  toSagaInput,
  type OutgoingCommand,
  type SagaAdvance,
  type SagaInput,
  type SagaState,
} from '../../functions/toolkit/saga';
import { decodeMessage } from '../../functions/toolkit/consumer';
import { sagaQueueSchemas, requestEnvelope, timerEnvelope } from '../../functions/toolkit/saga/messages';
import { decide, LEDGER_EVENTS, LedgerCommandSchemas, newAccount, type Account } from '../integration/saga/ledger';
import { STEP_TIMEOUT_SECONDS, transferSaga, type TransferInput } from '../integration/saga/transferSaga';

/** The test saga's attempts per step. */
const STEP_ATTEMPTS = transferSaga.stepAttempts ?? DEFAULT_STEP_ATTEMPTS;

// Given/when/then for the saga's pure core, with the test ledger's transfer saga (reserve → credit →
// confirm): given the inputs so far, when one more arrives, then the saga's state, its own events and
// the commands and timers it sends.

const T0 = new Date('2026-01-01T10:00:00.000Z').getTime();
const at = (seconds: number) => new Date(T0 + seconds * 1000);
const SAGA_ID = 'tr-1';
const INPUT: TransferInput = { from: 'alice', to: 'bob', amount: 500, faults: {} };
const OWN = sagaEventTypes('test.transfer');

let ids = 0;
const start = (seconds = 0, input: TransferInput = INPUT): SagaInput<TransferInput> => ({ kind: 'start', id: `in-${++ids}`, sagaId: SAGA_ID, input, at: at(seconds) });
const event = (type: string, seconds = 1, data: Record<string, unknown> = {}): SagaInput<TransferInput> => ({
  kind: 'event',
  id: `in-${++ids}`,
  sagaId: SAGA_ID,
  type,
  data: { transferId: SAGA_ID, ...data },
  at: at(seconds),
});
/** The timer the saga armed for what it waits on now, delivered at `seconds`. */
const timeoutOf = (state: SagaState<TransferInput>, seconds: number): SagaInput<TransferInput> => {
  const waiting = state.waiting!;
  return { kind: 'timeout', id: `in-${++ids}`, sagaId: SAGA_ID, step: waiting.step, phase: waiting.phase, attempt: waiting.attempt, dueAt: waiting.dueAt, at: at(seconds) };
};

/** Folds inputs through `advance`; ignored ones leave the state as it was. */
function given(...inputs: SagaInput<TransferInput>[]): SagaState<TransferInput> {
  let state: SagaState<TransferInput> | undefined;
  for (const input of inputs) {
    const result = advance(transferSaga, state, input);
    if (result.outcome === 'advanced') state = result.state;
  }
  if (!state) throw new Error('no saga instance after the given inputs');
  return state;
}
/** `given` for inputs that need the state so far (timers). */
function givenSteps(...steps: Array<SagaInput<TransferInput> | ((state: SagaState<TransferInput>) => SagaInput<TransferInput>)>): SagaState<TransferInput> {
  let state: SagaState<TransferInput> | undefined;
  for (const step of steps) {
    const input = typeof step === 'function' ? step(state!) : step;
    const result = advance(transferSaga, state, input);
    if (result.outcome === 'advanced') state = result.state;
  }
  return state!;
}
function advanced(result: SagaAdvance<TransferInput>) {
  if (result.outcome !== 'advanced') throw new Error(`expected the saga to advance, it ignored the input (${result.reason})`);
  return result;
}
/** The timer of what the saga waits on, firing when due; `n` of them, one after the other. */
const timeouts = (n: number) => Array.from({ length: n }, () => (s: SagaState<TransferInput>) => timeoutOf(s, (s.waiting!.dueAt - T0) / 1000));
const types = (result: SagaAdvance<TransferInput>) => advanced(result).events.map((e) => e.type);
const commands = (result: SagaAdvance<TransferInput>) => advanced(result).effects.commands.map((c) => `${c.type}(${c.phase}#${c.attempt})`);

const reserved = () => event(LEDGER_EVENTS.fundsReserved);
const credited = () => event(LEDGER_EVENTS.fundsCredited, 2);
const confirmed = () => event(LEDGER_EVENTS.reservationConfirmed, 3);
const released = (seconds = 5) => event(LEDGER_EVENTS.fundsReleased, seconds);
const reversed = (seconds = 4) => event(LEDGER_EVENTS.creditReversed, seconds);

describe('transfer saga (advance): the happy path', () => {
  it('given nothing, when a transfer is requested, then it starts: reserve is sent with its timer', () => {
    // act
    const result = advanced(advance(transferSaga, undefined, start()));

    // assert
    expect(result.state).toMatchObject({ status: 'running', waiting: { step: 'reserve', phase: 'forward', attempt: 1, dueAt: T0 + STEP_TIMEOUT_SECONDS * 1000 } });
    expect(result.events).toEqual([{ type: OWN.started, data: { sagaId: SAGA_ID, steps: ['reserve', 'credit', 'confirm'] } }]);
    expect(result.effects.commands).toEqual([
      { commandId: 'tr-1/reserve/forward/1', saga: 'test.transfer', sagaId: SAGA_ID, step: 'reserve', phase: 'forward', attempt: 1, target: 'ledger', type: 'ReserveFunds', data: { transferId: SAGA_ID, accountId: 'alice', amount: 500 } },
    ]);
    expect(result.effects.timers).toEqual([{ sagaId: SAGA_ID, step: 'reserve', phase: 'forward', attempt: 1, dueAt: T0 + STEP_TIMEOUT_SECONDS * 1000, delaySeconds: STEP_TIMEOUT_SECONDS }]);
    expect(result.done).toBe(false);
  });

  it('given reserve sent, when funds are reserved, then credit is sent with the step’s result kept', () => {
    // arrange
    const state = given(start());

    // act
    const result = advanced(advance(transferSaga, state, event(LEDGER_EVENTS.fundsReserved, 1, { amount: 500 })));

    // assert
    expect(types(result)).toEqual([OWN.stepCompleted]);
    expect(commands(result)).toEqual(['CreditFunds(forward#1)']);
    expect(result.effects.commands[0]?.data).toEqual({ transferId: SAGA_ID, accountId: 'bob', amount: 500 });
    expect(result.state.results).toEqual({ reserve: { transferId: SAGA_ID, amount: 500 } });
    expect(result.state.completedSteps).toEqual(['reserve']);
  });

  it('given reserved and credited, when the reservation is confirmed, then the saga completes and sends nothing more', () => {
    // arrange
    const state = given(start(), reserved(), credited());

    // act
    const result = advanced(advance(transferSaga, state, confirmed()));

    // assert
    expect(types(result)).toEqual([OWN.stepCompleted, OWN.completed]);
    expect(result.state.status).toBe('completed');
    expect(result.state.waiting).toBeUndefined();
    expect(result.effects).toEqual({ commands: [], timers: [] });
    expect(result.done).toBe(true);
  });
});

describe('transfer saga (advance): a failure at step k compensates steps k−1 … 1 in reverse order', () => {
  it('given reserve sent, when the reservation is refused, then nothing is undone: the saga is compensated at once', () => {
    // arrange
    const state = given(start());

    // act
    const result = advanced(advance(transferSaga, state, event(LEDGER_EVENTS.reservationRefused)));

    // assert
    expect(types(result)).toEqual([OWN.stepFailed, OWN.compensated]);
    expect(result.events[1]?.data).toEqual({ sagaId: SAGA_ID, failedStep: 'reserve', reason: 'refused' });
    expect(result.state.status).toBe('compensated');
    expect(result.effects.commands).toEqual([]);
    expect(result.done).toBe(true);
  });

  it('given reserved, when the credit is refused, then the reservation is released', () => {
    // arrange
    const state = given(start(), reserved());

    // act
    const result = advanced(advance(transferSaga, state, event(LEDGER_EVENTS.creditRefused, 2)));

    // assert
    expect(types(result)).toEqual([OWN.stepFailed]);
    expect(commands(result)).toEqual(['ReleaseFunds(compensation#1)']);
    expect(result.state).toMatchObject({ status: 'compensating', pendingCompensations: ['reserve'], failure: { step: 'credit', reason: 'refused', eventType: LEDGER_EVENTS.creditRefused } });
  });

  it('given reserved and credited, when the confirmation is refused, then the credit is reversed first, then the reservation released', () => {
    // arrange
    const state = given(start(), reserved(), credited());

    // act
    const failed = advanced(advance(transferSaga, state, event(LEDGER_EVENTS.confirmationRefused, 3)));
    const afterReversal = advanced(advance(transferSaga, failed.state, reversed()));
    const afterRelease = advanced(advance(transferSaga, afterReversal.state, released()));

    // assert
    expect(commands(failed)).toEqual(['ReverseCredit(compensation#1)']);
    expect(failed.state.pendingCompensations).toEqual(['credit', 'reserve']);
    expect(types(afterReversal)).toEqual([OWN.stepCompensated]);
    expect(commands(afterReversal)).toEqual(['ReleaseFunds(compensation#1)']);
    expect(types(afterRelease)).toEqual([OWN.stepCompensated, OWN.compensated]);
    expect(afterRelease.state).toMatchObject({ status: 'compensated', pendingCompensations: [] });
    expect(afterRelease.done).toBe(true);
  });
});

describe('transfer saga (advance): timeouts', () => {
  it('given credit sent, when its timer fires, then the credit is sent again as attempt 2 with a new command id and timer: no answer is not a refusal', () => {
    // arrange
    const state = given(start(), reserved());

    // act
    const result = advanced(advance(transferSaga, state, timeoutOf(state, 1 + STEP_TIMEOUT_SECONDS)));

    // assert
    expect(types(result)).toEqual([OWN.stepRetried]);
    expect(result.events[0]?.data).toEqual({ sagaId: SAGA_ID, step: 'credit', attempt: 2 });
    expect(result.effects.commands.map((c) => c.commandId)).toEqual(['tr-1/credit/forward/2']);
    expect(result.effects.timers).toEqual([{ sagaId: SAGA_ID, step: 'credit', phase: 'forward', attempt: 2, dueAt: T0 + (1 + 2 * STEP_TIMEOUT_SECONDS) * 1000, delaySeconds: STEP_TIMEOUT_SECONDS }]);
    expect(result.state).toMatchObject({ status: 'running', completedSteps: ['reserve'], pendingCompensations: [], waiting: { step: 'credit', phase: 'forward', attempt: 2 } });
  });

  it('given credit re-sent, when the answer to its first attempt arrives, then it counts: the saga goes on to confirm', () => {
    // arrange
    const state = givenSteps(start(), reserved(), (s) => timeoutOf(s, 1 + STEP_TIMEOUT_SECONDS));

    // act
    const result = advanced(advance(transferSaga, state, event(LEDGER_EVENTS.fundsCredited, 2 + STEP_TIMEOUT_SECONDS)));

    // assert
    expect(commands(result)).toEqual(['ConfirmReservation(forward#1)']);
    expect(result.state.completedSteps).toEqual(['reserve', 'credit']);
  });

  it('given credit re-sent, when the timer of its first attempt fires (again), then it is ignored as late', () => {
    // arrange
    const started = given(start(), reserved());
    const first = timeoutOf(started, 1 + STEP_TIMEOUT_SECONDS);
    const state = advanced(advance(transferSaga, started, first)).state;

    // act
    const result = advance(transferSaga, state, { ...first, id: 'the-first-timer-redelivered', at: at(5 + STEP_TIMEOUT_SECONDS) });

    // assert
    expect(result).toMatchObject({ outcome: 'ignored', reason: 'late' });
  });

  it('given credit (which can be undone) sent, when its last attempt times out too, then it is undone (it may have happened), then the reservation', () => {
    // arrange
    const state = givenSteps(start(), reserved(), ...timeouts(STEP_ATTEMPTS - 1));

    // act
    const result = advanced(advance(transferSaga, state, timeoutOf(state, 1000)));

    // assert
    expect(state.waiting).toMatchObject({ step: 'credit', phase: 'forward', attempt: STEP_ATTEMPTS });
    expect(types(result)).toEqual([OWN.stepFailed]);
    expect(result.events[0]?.data).toEqual({ sagaId: SAGA_ID, step: 'credit', reason: 'timed-out' });
    expect(result.state.pendingCompensations).toEqual(['credit', 'reserve']);
    expect(commands(result)).toEqual(['ReverseCredit(compensation#1)']);
  });

  it('given confirm (a pivot: it has no compensation) sent, when its last attempt times out, then the saga fails for an operator and undoes nothing', () => {
    // arrange
    const state = givenSteps(start(), reserved(), credited(), ...timeouts(STEP_ATTEMPTS - 1));

    // act
    const result = advanced(advance(transferSaga, state, timeoutOf(state, 1000)));

    // assert
    expect(types(result)).toEqual([OWN.stepFailed, OWN.failed]);
    expect(result.events[1]?.data).toMatchObject({ sagaId: SAGA_ID, step: 'confirm', reason: expect.stringMatching(/confirm.*may have happened.*operator/) });
    expect(result.state).toMatchObject({ status: 'failed', completedSteps: ['reserve', 'credit'], pendingCompensations: [], failure: { step: 'confirm', reason: 'timed-out' } });
    expect(result.state.waiting).toBeUndefined();
    expect(result.effects).toEqual({ commands: [], timers: [] });
    expect(result.done).toBe(true);
  });

  it('given a step with `attempts: 1`, when its timer fires, then it is not sent again', () => {
    // arrange
    const once = defineSaga({ ...transferSaga, steps: transferSaga.steps.map((s) => ({ ...s, attempts: 1 })) });
    const state = advanced(advance(once, undefined, start())).state;

    // act
    const result = advanced(advance(once, state, timeoutOf(state, STEP_TIMEOUT_SECONDS)));

    // assert
    expect(types(result)).toEqual([OWN.stepFailed]);
    expect(commands(result)).toEqual(['ReleaseFunds(compensation#1)']);
  });

  it('given reserve sent, when a timer of an earlier wait (another step, attempt or due time) fires, then it is ignored as late', () => {
    // arrange
    const state = given(start(), reserved());
    const stale: SagaInput<TransferInput> = { kind: 'timeout', id: 'stale', sagaId: SAGA_ID, step: 'reserve', phase: 'forward', attempt: 1, dueAt: T0 + STEP_TIMEOUT_SECONDS * 1000, at: at(20) };

    // act
    const result = advance(transferSaga, state, stale);

    // assert
    expect(result).toEqual({ outcome: 'ignored', reason: 'late', resend: { commands: [], timers: [] } });
  });

  it('given a step longer than SQS’s 900 s delay, when its timer arrives early, then it is re-armed for the rest', () => {
    // arrange
    const slow = defineSaga({ ...transferSaga, steps: transferSaga.steps.map((s) => ({ ...s, timeout: 2000 })) });
    const started = advanced(advance(slow, undefined, start()));
    const early = { ...timeoutOf(started.state, 900) };

    // act
    const result = advance(slow, started.state, early);

    // assert
    expect(started.effects.timers[0]?.delaySeconds).toBe(900);
    expect(result).toMatchObject({ outcome: 'ignored', reason: 'early-timer', resend: { commands: [], timers: [{ step: 'reserve', attempt: 1, dueAt: T0 + 2_000_000, delaySeconds: 900 }] } });
  });
});

/**
 * A small model of the two accounts: the test ledger (alice 1000, bob 0) applying the saga's commands
 * and answering each with its event, as the saga's targets must.
 */
class TwoAccounts {
  readonly accounts: Record<string, Account> = { alice: newAccount('alice', 1000).state, bob: newAccount('bob', 0).state };
  readonly applied: string[] = [];

  apply(command: OutgoingCommand, seconds: number): SagaInput<TransferInput> {
    const type = command.type as keyof typeof LedgerCommandSchemas;
    const data = LedgerCommandSchemas[type].parse(command.data);
    const decision = decide({ type, data } as Parameters<typeof decide>[0], this.accounts[data.accountId]!);
    this.accounts[data.accountId] = decision.state;
    this.applied.push(`${command.type}(${command.phase}#${command.attempt})`);
    const [answer] = decision.events;
    return event(answer!.type, seconds, answer!.data as Record<string, unknown>);
  }

  /** Every unit of money, wherever it is: available or reserved. */
  total(): number {
    return Object.values(this.accounts).reduce((sum, a) => sum + a.available + a.reserved, 0);
  }
}

describe('transfer saga (advance): the pivot rule — once a step without compensation may have happened, the saga only goes forward', () => {
  /** Reserved and credited through the model; confirm sent. */
  function atConfirm(model: TwoAccounts) {
    let result = advanced(advance(transferSaga, undefined, start()));
    result = advanced(advance(transferSaga, result.state, model.apply(result.effects.commands[0]!, 1)));
    result = advanced(advance(transferSaga, result.state, model.apply(result.effects.commands[0]!, 2)));
    return result;
  }

  it('given the transfer at confirm, when the confirm’s timer fires and then its answer arrives, then the saga completes and never reverses the credit', () => {
    // arrange
    const model = new TwoAccounts();
    const sent: OutgoingCommand[] = [];
    const confirmSent = atConfirm(model);
    const confirm = confirmSent.effects.commands[0]!;
    const answer = model.apply(confirm, 3); // applied in time; its answer is on its way

    // act
    const timedOut = advanced(advance(transferSaga, confirmSent.state, timeoutOf(confirmSent.state, 2 + STEP_TIMEOUT_SECONDS)));
    sent.push(...timedOut.effects.commands);
    const answered = advanced(advance(transferSaga, timedOut.state, { ...answer, at: at(3 + STEP_TIMEOUT_SECONDS) }));
    sent.push(...answered.effects.commands);
    for (const command of sent) model.apply(command, 4 + STEP_TIMEOUT_SECONDS); // the re-sent confirm is answered again

    // assert
    expect(answered.state).toMatchObject({ status: 'completed', completedSteps: ['reserve', 'credit', 'confirm'] });
    expect(sent.map((c) => c.type)).not.toContain('ReverseCredit');
    expect(model.applied).not.toContain('ReverseCredit(compensation#1)');
    expect(model.total()).toBe(1000);
    expect(model.accounts).toMatchObject({ alice: { available: 500, reserved: 0 }, bob: { available: 500, reserved: 0 } });
  });

  it('given the transfer at confirm, when the confirm’s timer fires, then confirm is sent again (the ledger answers it again) and nothing is undone', () => {
    // arrange
    const model = new TwoAccounts();
    const confirmSent = atConfirm(model);

    // act
    const timedOut = advanced(advance(transferSaga, confirmSent.state, timeoutOf(confirmSent.state, 2 + STEP_TIMEOUT_SECONDS)));
    const answer = model.apply(timedOut.effects.commands[0]!, 3 + STEP_TIMEOUT_SECONDS);
    const answered = advanced(advance(transferSaga, timedOut.state, answer));

    // assert
    expect(commands(timedOut)).toEqual(['ConfirmReservation(forward#2)']);
    expect(timedOut.state.pendingCompensations).toEqual([]);
    expect(answered.state.status).toBe('completed');
    expect(model.total()).toBe(1000);
  });

  it('given reserve sent again after its timer, when a refusal arrives, then reserve is undone too: the refusal may answer one attempt while another still reserves', () => {
    // arrange
    const state = givenSteps(start(), (s) => timeoutOf(s, STEP_TIMEOUT_SECONDS));

    // act
    const result = advanced(advance(transferSaga, state, event(LEDGER_EVENTS.reservationRefused, 1 + STEP_TIMEOUT_SECONDS)));

    // assert
    expect(types(result)).toEqual([OWN.stepFailed]);
    expect(result.state).toMatchObject({ status: 'compensating', pendingCompensations: ['reserve'], failure: { step: 'reserve', reason: 'refused' } });
    expect(commands(result)).toEqual(['ReleaseFunds(compensation#1)']);
  });

  it('given confirm sent again after its timer, when a refusal arrives, then the saga fails for an operator: another attempt may still confirm, and nothing is undone', () => {
    // arrange
    const state = givenSteps(start(), reserved(), credited(), (s) => timeoutOf(s, 2 + STEP_TIMEOUT_SECONDS));

    // act
    const result = advanced(advance(transferSaga, state, event(LEDGER_EVENTS.confirmationRefused, 3 + STEP_TIMEOUT_SECONDS)));

    // assert
    expect(types(result)).toEqual([OWN.stepFailed, OWN.failed]);
    expect(result.events[1]?.data).toMatchObject({ step: 'confirm', reason: expect.stringMatching(/confirm.*refused.*sent 2 times.*may have happened.*operator/) });
    expect(result.state).toMatchObject({ status: 'failed', pendingCompensations: [], failure: { step: 'confirm', reason: 'refused' } });
    expect(result.effects.commands).toEqual([]);
  });

  // A saga whose middle step cannot be undone: reserve → credit (a pivot here) → confirm.
  const pivotInTheMiddle = defineSaga({ ...transferSaga, steps: transferSaga.steps.map(({ compensate, ...s }) => (s.name === 'credit' ? s : { ...s, ...(compensate ? { compensate } : {}) })) });

  it('given a pivot completed, when a later step is refused, then the saga cannot go back across the pivot: it fails for an operator and undoes nothing', () => {
    // arrange
    let state = advanced(advance(pivotInTheMiddle, undefined, start())).state;
    state = advanced(advance(pivotInTheMiddle, state, reserved())).state;
    state = advanced(advance(pivotInTheMiddle, state, credited())).state;

    // act
    const result = advanced(advance(pivotInTheMiddle, state, event(LEDGER_EVENTS.confirmationRefused, 3)));

    // assert
    expect(types(result)).toEqual([OWN.stepFailed, OWN.failed]);
    expect(result.events[1]?.data).toMatchObject({ step: 'confirm', reason: expect.stringMatching(/credit.*cannot be undone.*operator/) });
    expect(result.state).toMatchObject({ status: 'failed', pendingCompensations: [], failure: { step: 'confirm', reason: 'refused' } });
    expect(result.effects).toEqual({ commands: [], timers: [] });
    expect(result.done).toBe(true);
  });

  it('given a pivot completed, when a later step (which can be undone) gets no answer after its last attempt, then the saga fails for an operator and undoes nothing', () => {
    // arrange
    const steps = [start(), reserved(), credited()];
    let state = steps.reduce<SagaState<TransferInput> | undefined>((s, input) => advanced(advance(pivotInTheMiddle, s, input)).state, undefined)!;
    for (let i = 1; i < STEP_ATTEMPTS; i++) state = advanced(advance(pivotInTheMiddle, state, timeoutOf(state, (state.waiting!.dueAt - T0) / 1000))).state;

    // act
    const result = advanced(advance(pivotInTheMiddle, state, timeoutOf(state, 1000)));

    // assert
    expect(types(result)).toEqual([OWN.stepFailed, OWN.failed]);
    expect(result.state).toMatchObject({ status: 'failed', pendingCompensations: [], failure: { step: 'confirm', reason: 'timed-out' } });
    expect(result.effects.commands).toEqual([]);
  });

  it('given a pivot not yet reached, when an earlier step is refused, then the steps before it are compensated as usual', () => {
    // arrange
    let state = advanced(advance(pivotInTheMiddle, undefined, start())).state;
    state = advanced(advance(pivotInTheMiddle, state, reserved())).state;

    // act
    const result = advanced(advance(pivotInTheMiddle, state, event(LEDGER_EVENTS.creditRefused, 2)));

    // assert
    expect(result.state).toMatchObject({ status: 'compensating', pendingCompensations: ['reserve'] });
    expect(commands(result)).toEqual(['ReleaseFunds(compensation#1)']);
  });
});

describe('transfer saga (advance): duplicate and late inputs are ignored', () => {
  it('given reserved, when the same event is delivered again, then it is a duplicate and the effects of that change are sent again', () => {
    // arrange
    const first = event(LEDGER_EVENTS.fundsReserved);
    const before = given(start());
    const applied = advanced(advance(transferSaga, before, first));

    // act
    const again = advance(transferSaga, applied.state, first);

    // assert
    expect(again).toEqual({ outcome: 'ignored', reason: 'duplicate', resend: applied.effects });
  });

  it('given credit sent, when another reservation event arrives, then it is ignored as late', () => {
    // arrange
    const state = given(start(), reserved());

    // act
    const result = advance(transferSaga, state, event(LEDGER_EVENTS.fundsReserved, 2));

    // assert
    expect(result).toMatchObject({ outcome: 'ignored', reason: 'late' });
  });

  it('given credit timed out and its reversal sent, when the credit finally arrives, then it is ignored (the reversal stands)', () => {
    // arrange
    const state = givenSteps(start(), reserved(), ...timeouts(STEP_ATTEMPTS));

    // act
    const result = advance(transferSaga, state, event(LEDGER_EVENTS.fundsCredited, 1000));

    // assert
    expect(result).toMatchObject({ outcome: 'ignored', reason: 'late' });
    expect(state.waiting).toMatchObject({ step: 'credit', phase: 'compensation' });
  });

  it('given a completed saga, when any event arrives, then it is ignored as finished; a second start is ignored too', () => {
    // arrange
    const state = given(start(), reserved(), credited(), confirmed());

    // act
    const late = advance(transferSaga, state, event(LEDGER_EVENTS.creditRefused, 9));
    const restart = advance(transferSaga, state, start(10));

    // assert
    expect(late).toMatchObject({ outcome: 'ignored', reason: 'finished' });
    expect(restart).toMatchObject({ outcome: 'ignored', reason: 'already-started' });
  });

  it('given no instance, when a step event arrives, then it is ignored (not a saga of ours)', () => {
    // act
    const result = advance(transferSaga, undefined, reserved());

    // assert
    expect(result).toMatchObject({ outcome: 'ignored', reason: 'unknown-saga' });
  });
});

describe('transfer saga (advance): compensation failures are retried, never dropped', () => {
  const compensatingRelease = () => given(start(), reserved(), event(LEDGER_EVENTS.creditRefused, 2));

  it('given a release sent, when it times out, then it is sent again as attempt 2 with a new command id', () => {
    // arrange
    const state = compensatingRelease();

    // act
    const result = advanced(advance(transferSaga, state, timeoutOf(state, 30)));

    // assert
    expect(types(result)).toEqual([OWN.compensationFailed, OWN.compensationRetried]);
    expect(result.effects.commands.map((c) => c.commandId)).toEqual(['tr-1/reserve/compensation/2']);
    expect(result.state.waiting).toMatchObject({ step: 'reserve', phase: 'compensation', attempt: 2, sent: true });
  });

  it('given a compensation that is refused, then it waits a backoff, and is sent again when that timer fires', () => {
    // arrange: a saga whose release can be refused
    const refusable = defineSaga({
      ...transferSaga,
      steps: transferSaga.steps.map((s) => (s.compensate ? { ...s, compensate: { ...s.compensate, failedBy: [`${s.compensate.completedBy}-refused`] } } : s)),
    });
    const s0 = advanced(advance(refusable, undefined, start())).state;
    const s1 = advanced(advance(refusable, s0, reserved())).state;
    const s2 = advanced(advance(refusable, s1, event(LEDGER_EVENTS.creditRefused, 2))).state;

    // act
    const refused = advanced(advance(refusable, s2, event(`${LEDGER_EVENTS.fundsReleased}-refused`, 3)));
    const resent = advanced(advance(refusable, refused.state, timeoutOf(refused.state, 4)));

    // assert
    expect(types(refused)).toEqual([OWN.compensationFailed]);
    expect(refused.effects).toEqual({ commands: [], timers: [expect.objectContaining({ step: 'reserve', phase: 'compensation', attempt: 2, delaySeconds: 1 })] });
    expect(types(resent)).toEqual([OWN.compensationRetried]);
    expect(commands(resent)).toEqual(['ReleaseFunds(compensation#2)']);
  });

  it('given the last allowed attempt, when it times out too, then the saga fails loudly (needs an operator) and stops retrying', () => {
    // arrange
    const twice = defineSaga({ ...transferSaga, compensationAttempts: 2 });
    let state = advanced(advance(twice, undefined, start())).state;
    state = advanced(advance(twice, state, reserved())).state;
    state = advanced(advance(twice, state, event(LEDGER_EVENTS.creditRefused, 2))).state;
    state = advanced(advance(twice, state, timeoutOf(state, 20))).state;

    // act
    const result = advanced(advance(twice, state, timeoutOf(state, 40)));

    // assert
    expect(types(result)).toEqual([OWN.failed]);
    expect(result.events[0]?.data).toMatchObject({ sagaId: SAGA_ID, step: 'reserve' });
    expect(result.state.status).toBe('failed');
    expect(result.state.pendingCompensations).toEqual(['reserve']);
    expect(result.done).toBe(true);
  });

  it('given a release retried after a timeout, when the first attempt’s answer arrives, then the step counts as undone', () => {
    // arrange
    const state = givenSteps(start(), reserved(), event(LEDGER_EVENTS.creditRefused, 2), (s) => timeoutOf(s, 30));

    // act
    const result = advanced(advance(transferSaga, state, released(31)));

    // assert
    expect(result.state.status).toBe('compensated');
  });
});

describe('defineSaga', () => {
  it('lists every problem of a definition at once', () => {
    // arrange
    const bad = () =>
      defineSaga({
        name: 'Transfer',
        input: z.object({}),
        correlateBy: 'transfer id',
        steps: [
          { name: 'reserve', command: () => ({ target: 'ledger', type: 'ReserveFunds', data: {} }), completedBy: 'test.ledger.funds.reserved', failedBy: ['test.ledger.funds.reserved'], timeout: 0 },
          { name: 'reserve', command: () => ({ target: 'ledger', type: 'X', data: {} }), completedBy: 'Bad Type', failedBy: [], timeout: 5 },
        ],
      });

    // act / assert
    expect(bad).toThrow(InvalidSagaDefinitionError);
    expect(bad).toThrow(/`name` must be dotted.*`correlateBy`.*`timeout`.*used for two outcomes.*appears twice.*"Bad Type"/);
  });

  it('refuses attempts that are not a whole number from 1 to 100, for the saga and for a step', () => {
    // arrange
    const bad = () => defineSaga({ ...transferSaga, stepAttempts: 0, steps: transferSaga.steps.map((s) => (s.name === 'credit' ? { ...s, attempts: 1.5 } : s)) });

    // act / assert
    expect(bad).toThrow(InvalidSagaDefinitionError);
    expect(bad).toThrow(/`stepAttempts` must be an integer from 1 to 100.*step "credit": `attempts` must be an integer from 1 to 100/);
  });

  it('names the step events the saga listens to, once each', () => {
    expect(stepEventTypes(transferSaga)).toEqual([
      LEDGER_EVENTS.fundsReserved,
      LEDGER_EVENTS.reservationRefused,
      LEDGER_EVENTS.fundsReleased,
      LEDGER_EVENTS.fundsCredited,
      LEDGER_EVENTS.creditRefused,
      LEDGER_EVENTS.creditReversed,
      LEDGER_EVENTS.reservationConfirmed,
      LEDGER_EVENTS.confirmationRefused,
    ]);
  });
});

describe('saga messages', () => {
  it('reads a start request, a timer and a step event from the saga’s queue into saga inputs', () => {
    // arrange
    const now = at(1);
    const schemas = sagaQueueSchemas(transferSaga);
    const request = requestEnvelope('test.transfer', 'tr-9', INPUT, now);
    const timer = timerEnvelope('test.transfer', { sagaId: 'tr-9', step: 'credit', phase: 'forward', attempt: 1, dueAt: 123, delaySeconds: 8 }, now);
    const reservedEvent = buildEvent({ id: newEventId(), source: 'test.ledger', type: LEDGER_EVENTS.fundsReserved, subject: 'alice', sequence: 2, time: now, traceparent: newTraceparent(), data: { transferId: 'tr-9', accountId: 'alice', amount: 5 } });
    const viaBus = JSON.stringify({ 'detail-type': reservedEvent.type, source: 'test.ledger', detail: reservedEvent });

    // act
    const inputs = [JSON.stringify(request), JSON.stringify(timer), viaBus].map((body) => toSagaInput(transferSaga, decodeMessage(body, schemas), now));

    // assert
    expect(inputs).toEqual([
      { kind: 'start', id: request.id, sagaId: 'tr-9', input: INPUT, at: now },
      { kind: 'timeout', id: timer.id, sagaId: 'tr-9', step: 'credit', phase: 'forward', attempt: 1, dueAt: 123, at: now },
      { kind: 'event', id: reservedEvent.id, sagaId: 'tr-9', type: LEDGER_EVENTS.fundsReserved, data: reservedEvent.data, at: now },
    ]);
  });

  it('a target decodes a command with its data schema, and refuses one it does not handle as poison', () => {
    // arrange
    const started = advanced(advance(transferSaga, undefined, start()));
    const body = JSON.stringify(toCommandMessage(started.effects.commands[0]!, at(0)));
    const schemas = { ReserveFunds: z.object({ transferId: z.string(), accountId: z.string(), amount: z.number() }) };

    // act
    const command = decodeSagaCommand(body, schemas);

    // assert
    expect(command).toMatchObject({ kind: 'saga.command', commandId: 'tr-1/reserve/forward/1', type: 'ReserveFunds', data: { accountId: 'alice', amount: 500 } });
    expect(() => decodeSagaCommand(body, { CreditFunds: z.object({}) })).toThrow(InvalidSagaMessageError);
    expect(() => decodeSagaCommand('{"kind":"other"}', schemas)).toThrow(InvalidSagaMessageError);
  });
});

/**
 * The two calls `SagaClient.start` makes, as DynamoDB and SQS answer them: a conditional PutItem (the
 * condition it uses: absent, or the same digest) on a map, and SendMessage recorded (or failing once).
 */
class FakeStartTarget {
  readonly items = new Map<string, Record<string, AttributeValue>>();
  readonly sent: Array<{ sagaId: string; input: unknown }> = [];
  failNextSend = false;

  readonly dynamodb = {
    send: async (command: unknown): Promise<unknown> => {
      if (!(command instanceof PutItemCommand)) throw new Error(`the fake does not answer ${String(command)}`);
      const { Item, ConditionExpression, ExpressionAttributeValues } = command.input;
      expect(ConditionExpression).toBe('attribute_not_exists(pk) OR digest = :digest');
      const id = `${Item!.pk!.S}|${Item!.sk!.S}`;
      const existing = this.items.get(id);
      if (existing && existing.digest?.S !== ExpressionAttributeValues![':digest']!.S) throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
      this.items.set(id, Item!);
      return {};
    },
  } as unknown as DynamoDBClient;

  readonly sqs = {
    send: async (command: unknown): Promise<unknown> => {
      if (!(command instanceof SendMessageCommand)) throw new Error(`the fake does not answer ${String(command)}`);
      if (this.failNextSend) {
        this.failNextSend = false;
        throw new Error('network down');
      }
      const envelope = JSON.parse(command.input.MessageBody!) as { data: { sagaId: string; input: unknown } };
      this.sent.push(envelope.data);
      return {};
    },
  } as unknown as SQSClient;

  client(): SagaClient<TransferInput> {
    return new SagaClient(transferSaga, { sqs: this.sqs, dynamodb: this.dynamodb, queueUrl: 'https://sqs.local/queue/saga', tableName: 'sagas', clock: () => at(0) });
  }
}

describe('SagaClient: a saga id names one request; the same id with other input is a conflict', () => {
  it('given a transfer requested, when the same request comes again (its keys in another order), then it is sent again (the saga starts once) and is no conflict', async () => {
    // arrange
    const target = new FakeStartTarget();
    await target.client().start('tr-9', { from: 'alice', to: 'bob', amount: 500, faults: {} });

    // act
    await target.client().start('tr-9', { faults: {}, amount: 500, to: 'bob', from: 'alice' } as TransferInput);

    // assert
    expect(target.sent).toHaveLength(2);
    expect([...target.items.keys()]).toEqual(['SAGA#tr-9|REQUEST']);
    expect(target.items.get('SAGA#tr-9|REQUEST')).toMatchObject({ saga: { S: 'test.transfer' }, digest: { S: expect.stringMatching(/^[0-9a-f]{64}$/) } });
  });

  it('given a transfer requested, when the same id comes with another amount, then it is refused as a conflict and nothing is sent', async () => {
    // arrange
    const target = new FakeStartTarget();
    await target.client().start('tr-9', INPUT);

    // act
    const other = target.client().start('tr-9', { ...INPUT, amount: 501 });

    // assert
    await expect(other).rejects.toThrow(SagaConflictError);
    await expect(target.client().start('tr-9', { ...INPUT, to: 'carol' })).rejects.toThrow(/tr-9 was already requested with other input/);
    expect(target.sent).toEqual([{ sagaId: 'tr-9', input: INPUT }]);
  });

  it('when two different requests with one id race before the saga has started, then exactly one is sent and the other is a conflict', async () => {
    // arrange
    const target = new FakeStartTarget();

    // act
    const results = await Promise.allSettled([target.client().start('tr-9', INPUT), target.client().start('tr-9', { ...INPUT, amount: 7 })]);

    // assert
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: expect.any(SagaConflictError) });
    expect(target.sent).toHaveLength(1);
  });

  it('given a request recorded whose send failed, when the client retries it, then the start is sent', async () => {
    // arrange
    const target = new FakeStartTarget();
    target.failNextSend = true;
    await expect(target.client().start('tr-9', INPUT)).rejects.toThrow('network down');

    // act
    await target.client().start('tr-9', INPUT);

    // assert
    expect(target.sent).toEqual([{ sagaId: 'tr-9', input: INPUT }]);
  });

  it('refuses an id its definition refuses (it becomes part of a key) before recording anything; so does the saga’s queue', async () => {
    // arrange
    const target = new FakeStartTarget();
    const strict = defineSaga({ ...transferSaga, sagaId: z.string().regex(/^tr-[0-9]+$/) });
    const client = new SagaClient(strict, { sqs: target.sqs, dynamodb: target.dynamodb, queueUrl: 'https://sqs.local/queue/saga', tableName: 'sagas' });

    // act
    const bad = client.start('tr 9', INPUT);

    // assert
    await expect(bad).rejects.toThrow(InvalidSagaMessageError);
    expect(target.items.size).toBe(0);
    const request = JSON.stringify(requestEnvelope('test.transfer', 'tr 9', INPUT, at(0)));
    expect(() => decodeMessage(request, sagaQueueSchemas(strict))).toThrow(/sagaId/);
  });

  it('refuses an input its definition refuses before recording anything (poison: no retry fixes it)', async () => {
    // arrange
    const target = new FakeStartTarget();

    // act
    const bad = target.client().start('tr-9', { ...INPUT, amount: -1 });

    // assert
    await expect(bad).rejects.toThrow(InvalidSagaMessageError);
    expect(target.items.size).toBe(0);
    expect(target.sent).toEqual([]);
  });
});

describe('SagaRuntime (in memory): saved first, then sent; nothing lost on a crash in between', () => {
  it('when sending fails after the save, then the redelivered input sends the same commands again', async () => {
    // arrange
    const store = new InMemorySagaStore<TransferInput>();
    const messenger = new InMemorySagaMessenger();
    let failNext = true;
    const flaky = {
      sendCommand: async (...args: Parameters<InMemorySagaMessenger['sendCommand']>) => {
        if (failNext) {
          failNext = false;
          throw new Error('network down');
        }
        await messenger.sendCommand(...args);
      },
      schedule: messenger.schedule.bind(messenger),
    };
    const runtime = new SagaRuntime(transferSaga, { store, messenger: flaky });
    const request = start();

    // act
    await expect(runtime.handle(request)).rejects.toThrow('network down');
    const redelivered = await runtime.handle(request);

    // assert
    expect(redelivered).toMatchObject({ outcome: 'ignored', reason: 'duplicate' });
    expect(messenger.commands.map((c) => c.commandId)).toEqual(['tr-1/reserve/forward/1']);
    expect(messenger.timers).toHaveLength(1);
    expect(store.events.map((e) => e.type)).toEqual([OWN.started]);
    expect(store.instances.get(SAGA_ID)?.version).toBe(1);
  });

  it('when the save went through but its answer was lost and the retry met the inbox item, then the change’s commands and timers are still sent', async () => {
    // arrange: the store commits, then answers as a retried transaction would: "applied before"
    const store = new InMemorySagaStore<TransferInput>();
    const messenger = new InMemorySagaMessenger();
    const save = store.save.bind(store);
    store.save = async (...args) => {
      await save(...args);
      throw new AlreadyAppliedError(args[3]?.inbox?.messageId ?? 'start');
    };
    const runtime = new SagaRuntime(transferSaga, { store, messenger });
    const request = start();

    // act
    const result = await runtime.handle(request, { inbox: { tableName: 'state', messageId: request.id, digest: 'd' } });

    // assert
    expect(result).toMatchObject({ outcome: 'ignored', reason: 'duplicate' });
    expect(messenger.commands.map((c) => c.commandId)).toEqual(['tr-1/reserve/forward/1']);
    expect(messenger.timers).toHaveLength(1);
  });

  it('when a step’s timer races its answer, then exactly one wins: the loser reloads, finds itself late, and changes nothing', async () => {
    // arrange
    const store = new InMemorySagaStore<TransferInput>();
    const messenger = new InMemorySagaMessenger();
    const runtime = new SagaRuntime(transferSaga, { store, messenger });
    await runtime.handle(start());
    const timer = timeoutOf((await store.load(SAGA_ID))!.state, STEP_TIMEOUT_SECONDS);
    const load = store.load.bind(store);
    let raced = false;
    store.load = async (sagaId) => {
      const loaded = await load(sagaId);
      if (!raced) {
        raced = true; // the reservation lands between this load and this save
        const other = advance(transferSaga, loaded!.state, reserved());
        if (other.outcome === 'advanced') await store.save(other.state, loaded!.version, other.events);
      }
      return loaded;
    };

    // act
    const result = await runtime.handle(timer);

    // assert
    expect(result).toMatchObject({ outcome: 'ignored', reason: 'late' });
    expect(store.events.map((e) => e.type)).toEqual([OWN.started, OWN.stepCompleted]);
    expect((await load(SAGA_ID))?.state).toMatchObject({ status: 'running', waiting: { step: 'credit' } });
  });
});

describe('the test ledger (the saga’s generic target)', () => {
  const open = (id: string, balance: number): Account => newAccount(id, balance).state;
  const transfer = 'tr-7';

  it('a release that arrives before its reservation is remembered, and the late reservation is refused (no money held)', () => {
    // arrange
    const released = decide({ type: 'ReleaseFunds', data: { transferId: transfer, accountId: 'alice' } }, open('alice', 1000));

    // act
    const late = decide({ type: 'ReserveFunds', data: { transferId: transfer, accountId: 'alice', amount: 300 } }, released.state);

    // assert
    expect(late.events.map((e) => e.type)).toEqual([LEDGER_EVENTS.reservationRefused]);
    expect(late.state).toMatchObject({ available: 1000, reserved: 0 });
  });

  it('a duplicate command answers again without changing the balance', () => {
    // arrange
    const command = { type: 'CreditFunds' as const, data: { transferId: transfer, accountId: 'bob', amount: 300 } };
    const once = decide(command, open('bob', 0));

    // act
    const twice = decide(command, once.state);

    // assert
    expect(twice.state.available).toBe(300);
    expect(twice.events).toEqual([{ type: LEDGER_EVENTS.fundsCredited, data: { transferId: transfer, accountId: 'bob', amount: 300, repeated: true } }]);
  });
});
