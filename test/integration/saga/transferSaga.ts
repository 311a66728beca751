import * as z from 'zod';
import { defineSaga } from '../../../functions/toolkit/saga';
import { LEDGER_EVENTS } from './ledger';

/** Test-only faults the ledger is told to act out at a step: refuse it, or never answer. */
export const Fault = z.enum(['refuse', 'ignore']);
export const TransferInput = z
  .object({
    from: z.string().min(1),
    to: z.string().min(1),
    amount: z.number().int().positive(),
    /** And for a compensation: the release goes unanswered the first time (so the saga must retry it). */
    faults: z.object({ reserve: Fault, credit: Fault, confirm: Fault, release: z.literal('ignore-once') }).partial().default({}),
  })
  .strict();
export type TransferInput = z.infer<typeof TransferInput>;

export const TRANSFER_SAGA = 'test.transfer';
/** Seconds each step may take; short, so that the timeout tests are quick. */
export const STEP_TIMEOUT_SECONDS = 8;

const fault = (input: TransferInput, step: keyof TransferInput['faults']) => (input.faults[step] ? { fault: input.faults[step] } : {});


/**
 * A transfer between two ledger accounts as a saga: reserve on the source → credit the target →
 * confirm the reservation. The generic stand-in for the wallet's transfer in the toolkit's tests.
 */
export const transferSaga = defineSaga({
  name: TRANSFER_SAGA,
  input: TransferInput,
  correlateBy: 'transferId',
  // Two attempts are enough to show a re-send, and keep the timeout tests short.
  stepAttempts: 2,
  steps: [
    {
      name: 'reserve',
      command: ({ sagaId, input }) => ({ target: 'ledger', type: 'ReserveFunds', data: { transferId: sagaId, accountId: input.from, amount: input.amount, ...fault(input, 'reserve') } }),
      completedBy: LEDGER_EVENTS.fundsReserved,
      failedBy: [LEDGER_EVENTS.reservationRefused],
      compensate: {
        command: ({ sagaId, input }) => ({ target: 'ledger', type: 'ReleaseFunds', data: { transferId: sagaId, accountId: input.from, ...fault(input, 'release') } }),
        completedBy: LEDGER_EVENTS.fundsReleased,
      },
      timeout: STEP_TIMEOUT_SECONDS,
    },
    {
      name: 'credit',
      command: ({ sagaId, input }) => ({ target: 'ledger', type: 'CreditFunds', data: { transferId: sagaId, accountId: input.to, amount: input.amount, ...fault(input, 'credit') } }),
      completedBy: LEDGER_EVENTS.fundsCredited,
      failedBy: [LEDGER_EVENTS.creditRefused],
      compensate: {
        command: ({ sagaId, input }) => ({ target: 'ledger', type: 'ReverseCredit', data: { transferId: sagaId, accountId: input.to } }),
        completedBy: LEDGER_EVENTS.creditReversed,
      },
      timeout: STEP_TIMEOUT_SECONDS,
    },
    {
      name: 'confirm',
      command: ({ sagaId, input }) => ({ target: 'ledger', type: 'ConfirmReservation', data: { transferId: sagaId, accountId: input.from, ...fault(input, 'confirm') } }),
      completedBy: LEDGER_EVENTS.reservationConfirmed,
      failedBy: [LEDGER_EVENTS.confirmationRefused],
      timeout: STEP_TIMEOUT_SECONDS,
    },
  ],
});
