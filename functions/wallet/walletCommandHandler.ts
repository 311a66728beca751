import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import * as z from 'zod';
import { DomainRejection } from '../toolkit/eventsource';
import { instrument } from '../toolkit/observability';
import { defineCommandConsumer } from '../toolkit/saga';
import { ClientId, Currency } from './schemas';
import { TRANSFER_REFUSALS, type WalletCommand } from './wallet';
import { walletStore } from './walletStore';

const store = walletStore(instrument(new DynamoDBClient({})));

/** Ids that become keys are checked with the one schema the HTTP API uses too. */
const TransferStep = z.object({ transferId: ClientId, accountId: ClientId, amount: z.object({ amount: z.number().int().positive(), currency: Currency }).strict() }).strict();
/** The commands the transfer saga sends the wallet. */
const WALLET_COMMANDS = { ReserveFunds: TransferStep, ReleaseReservation: TransferStep, CreditTransfer: TransferStep, ReverseCredit: TransferStep, ConfirmReservation: TransferStep } as const;

/** Where a refusal is recorded: the account's stream, or — for an account that does not exist — the transfer's own, so no stream is created for a missing account. */
const refusalStream = (code: string, accountId: string, transferId: string) => (code === 'AccountNotFound' ? `transfer:${transferId}` : accountId);

/**
 * The wallet's command queue: commands from the transfer saga, applied to the account's stream with
 * the command's inbox claim in the same append (each command id applied once). A refused step is
 * recorded as its refusal event (so the saga compensates); a repeated step is answered again (the
 * decider knows each transfer's steps). Poison is dead-lettered at once with the reason; anything
 * else is retried with backoff and jitter, then dead-lettered with the last error.
 */
export const handler = defineCommandConsumer({
  commands: WALLET_COMMANDS,
  handler: async (message, { logger, inbox }) => {
    // `sentAt`: when the saga sent it — a step for a transfer the account no longer remembers is judged stale by it.
    const command: WalletCommand = { kind: message.type, ...message.data, at: new Date().toISOString(), sentAt: message.sentAt };
    const options = { retries: 10, inbox, ...(message.traceparent ? { traceparent: message.traceparent } : {}) };
    try {
      const handled = await store.handle(command.accountId, command, options);
      logger.info('transfer step applied', { transferId: message.data.transferId, type: message.type, events: handled.events.length });
    } catch (error) {
      if (!(error instanceof DomainRejection) || !(message.type in TRANSFER_REFUSALS)) throw error;
      const step = message.type as keyof typeof TRANSFER_REFUSALS;
      const { accountId, transferId } = message.data;
      await store.handle(refusalStream(error.code, accountId, transferId), { kind: 'RefuseTransferStep', step, accountId, transferId, code: error.code, reason: error.message, at: command.at }, options);
      logger.info('transfer step refused', { transferId, type: step, code: error.code });
    }
  },
});
