import * as z from 'zod';
import { defineSaga } from '../toolkit/saga';
import { Currency } from './schemas';

/** A transfer of `amount` minor units from one wallet account to another, in one currency. */
export const TransferInput = z
  .object({
    from: z.string().min(1).max(64),
    to: z.string().min(1).max(64),
    amount: z.object({ amount: z.number().int().positive(), currency: Currency }).strict(),
  })
  .strict()
  .refine((input) => input.from !== input.to, { message: 'a transfer goes from one account to another', path: ['to'] });
export type TransferInput = z.infer<typeof TransferInput>;

/** Seconds a step may take before the saga gives up on it and compensates. */
export const TRANSFER_STEP_TIMEOUT_SECONDS = 30;

/**
 * The transfer, at a glance: reserve on the source → credit the target → confirm on the source.
 * A refused or timed-out step compensates the steps before it in reverse order: reverse the
 * credit, release the reservation. Every command goes to the wallet's command queue; every answer
 * is a wallet event carrying the `transferId` (= the saga id).
 */
export const transferSaga = defineSaga({
  name: 'wallet.transfers',
  input: TransferInput,
  correlateBy: 'transferId',
  steps: [
    {
      name: 'reserve',
      command: ({ sagaId, input }) => ({ target: 'wallet', type: 'ReserveFunds', data: { transferId: sagaId, accountId: input.from, amount: input.amount } }),
      completedBy: 'wallet.funds.reserved',
      failedBy: ['wallet.funds.reservation.refused'],
      compensate: {
        command: ({ sagaId, input }) => ({ target: 'wallet', type: 'ReleaseReservation', data: { transferId: sagaId, accountId: input.from, amount: input.amount } }),
        completedBy: 'wallet.funds.released',
      },
      timeout: TRANSFER_STEP_TIMEOUT_SECONDS,
    },
    {
      name: 'credit',
      command: ({ sagaId, input }) => ({ target: 'wallet', type: 'CreditTransfer', data: { transferId: sagaId, accountId: input.to, amount: input.amount } }),
      completedBy: 'wallet.transfer.credited',
      failedBy: ['wallet.transfer.credit.refused'],
      compensate: {
        command: ({ sagaId, input }) => ({ target: 'wallet', type: 'ReverseCredit', data: { transferId: sagaId, accountId: input.to, amount: input.amount } }),
        completedBy: 'wallet.transfer.credit.reversed',
      },
      timeout: TRANSFER_STEP_TIMEOUT_SECONDS,
    },
    {
      name: 'confirm',
      command: ({ sagaId, input }) => ({ target: 'wallet', type: 'ConfirmReservation', data: { transferId: sagaId, accountId: input.from, amount: input.amount } }),
      completedBy: 'wallet.funds.reservation.confirmed',
      failedBy: ['wallet.funds.confirmation.refused'],
      timeout: TRANSFER_STEP_TIMEOUT_SECONDS,
    },
  ],
});
