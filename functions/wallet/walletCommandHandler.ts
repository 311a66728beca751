import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import * as z from 'zod';
import { ConcurrencyError, DomainRejection } from '../toolkit/eventsource';
import { decodeSagaCommand } from '../toolkit/saga';
import { Currency } from './schemas';
import { refuseTransferStep, TRANSFER_REFUSALS, type WalletCommand } from './wallet';
import { walletStore } from './walletStore';
import { instrument } from '../toolkit/observability';

const logger = new Logger({ serviceName: 'wallet' });
const store = walletStore(instrument(new DynamoDBClient({})));
const processor = new BatchProcessor(EventType.SQS);

const TransferStep = z.object({ transferId: z.string().min(1), accountId: z.string().min(1), amount: z.object({ amount: z.number().int().positive(), currency: Currency }) }).strict();
/** The commands the transfer saga sends the wallet. */
const WALLET_COMMANDS = { ReserveFunds: TransferStep, ReleaseReservation: TransferStep, CreditTransfer: TransferStep, ReverseCredit: TransferStep, ConfirmReservation: TransferStep } as const;

/**
 * The wallet's command queue: commands from the transfer saga, applied to the account's stream.
 * A refused step is recorded as its refusal event (so the saga compensates); a repeated command is
 * a no-op (the decider knows each transfer's steps); anything else fails and is retried, then
 * dead-lettered by the queue.
 */
async function apply(record: SQSRecord): Promise<void> {
  const message = decodeSagaCommand(record.body, WALLET_COMMANDS);
  const command: WalletCommand = { kind: message.type, ...message.data, at: new Date().toISOString() };
  const traceparent = message.traceparent ? { traceparent: message.traceparent } : {};
  try {
    const handled = await store.handle(command.accountId, command, { retries: 10, ...traceparent });
    logger.info('transfer step applied', { transferId: message.data.transferId, type: message.type, events: handled.events.length });
  } catch (error) {
    if (!(error instanceof DomainRejection) || !(command.kind in TRANSFER_REFUSALS)) throw error;
    const step = command as WalletCommand & { kind: keyof typeof TRANSFER_REFUSALS };
    for (let attempt = 1; ; attempt++) {
      const { version } = await store.load(step.accountId);
      try {
        await store.append(step.accountId, version, refuseTransferStep(step, error.code, error.message), traceparent);
        break;
      } catch (appendError) {
        if (attempt >= 10 || !(appendError instanceof ConcurrencyError)) throw appendError;
      }
    }
    logger.info('transfer step refused', { transferId: step.transferId, type: step.kind, code: error.code });
  }
}

export const handler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => processPartialResponse(event, apply, processor, { context });
