import * as z from 'zod';
import { defineSaga } from '../toolkit/saga';
import { ClientId, Currency } from './schemas';

/**
 * A transfer of `amount` minor units from one wallet account to another, in one currency. The
 * account ids become keys (the accounts' streams): they are client ids, like everywhere else.
 */
export const TransferInput = z
  .object({
    from: ClientId,
    to: ClientId,
    amount: z.object({ amount: z.number().int().positive(), currency: Currency }).strict(),
  })
  .strict()
  .refine((input) => input.from !== input.to, { message: 'a transfer goes from one account to another', path: ['to'] });
export type TransferInput = z.infer<typeof TransferInput>;

/**
 * Seconds each attempt of a transfer step waits for the wallet's answer before the command is sent
 * again. It outlasts one redelivery of the wallet's command queue, so that a single transient failure
 * or a crashed invocation never costs an attempt: a crashed (or timed-out) invocation's command comes
 * back after the queue's visibility timeout, 60 s (the toolkit's 6 × the command function's 10 s),
 * and runs for up to 10 s again; a transient failure comes back sooner (the consumer's backoff, from
 * 2 s); then the answer takes the way back (wallet outbox → stream → relay → bus → the saga's queue →
 * the saga), seconds when quiet, allowed 20 s under load: 60 + 10 + 20 = 90 s. (At 30 s with no
 * re-send, the full chaos run timed out 677 of ~760 transfers at `reserve` and compensated them.)
 * The construct test of the wallet stack checks it against the deployed queues and functions.
 */
export const TRANSFER_STEP_TIMEOUT_SECONDS = 90;
/**
 * Sends of each step before its outcome counts as unknown for good (then the transfer is compensated,
 * or, once `confirm` may have happened, fails for an operator). An answer to any attempt counts, so a
 * step is given up only after 3 × 90 s = 4.5 minutes without any answer: longer than one redelivery
 * of an answer to the saga itself (its queue's visibility timeout, 180 s, plus its 30 s run), and a
 * backlog of that length is an incident, not load. More attempts would add little but duplicate
 * commands to a wallet that is already behind (each attempt is answered, i.e. one more event).
 * The chaos harness's settle deadline must cover a transfer's worst case: 3 steps × 3 attempts × 90 s
 * going forward, plus its compensations.
 */
export const TRANSFER_STEP_ATTEMPTS = 3;

/**
 * The transfer, at a glance: reserve on the source → credit the target → confirm on the source.
 * A step without an answer in time is sent again (the wallet answers every attempt). A refused step,
 * or one still unanswered after its last attempt, compensates in reverse order: reverse the credit,
 * release the reservation (an unanswered step is undone too: it may have happened). `confirm` has no
 * compensation: it is the pivot. Once it may have happened (sent, and not refused on its only
 * attempt) the transfer is never compensated: unanswered after its last attempt, it fails for an
 * operator, with the credit made and the money reserved or confirmed. Every command goes to the
 * wallet's command queue; every answer is a wallet event carrying the `transferId` (= the saga id).
 */
export const transferSaga = defineSaga({
  name: 'wallet.transfers',
  input: TransferInput,
  sagaId: ClientId,
  correlateBy: 'transferId',
  // The wallet keeps a refused step (settled as `refused`) and refuses every later attempt of it.
  refusalsAreFinal: true,
  stepAttempts: TRANSFER_STEP_ATTEMPTS,
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
