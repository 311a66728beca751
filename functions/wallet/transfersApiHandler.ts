import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod';
import { parseConfig } from '../toolkit/config/parseConfig';
import { httpApi, HttpError, json, jsonBody, pathParameter, validated } from '../toolkit/http/httpApi';
import { instrument } from '../toolkit/observability';
import { readAggregate } from '../toolkit/outbox';
import { SagaClient, SagaConflictError, sagaKey, type SagaState } from '../toolkit/saga';
import { ClientId } from './schemas';
import { TransferInput, transferSaga } from './transferSaga';
import { WALLET_API_ENV, WalletApiConfigSchema } from './walletApiConfig';
import { WALLET_ACCESS } from './access';
import { holds } from './holders';
import { walletStore } from './walletStore';
import { PersonalDataSealer } from '../toolkit/privacy/PersonalDataSealer';
import type { Caller } from '../toolkit/http/access';

const config = parseConfig(WalletApiConfigSchema);
const logger = new Logger({ serviceName: 'wallet' });
const dynamodb = instrument(new DynamoDBClient({}));
const sealer = PersonalDataSealer.fromEnvironment({ dynamodb });
const accounts = walletStore(dynamodb, sealer);

/** Whether the caller holds the account a transfer is from (anyone else's transfers do not exist for them). */
const holdsSource = async (from: string, caller: Caller) => holds((await accounts.load(from)).state, caller.sub, sealer);

const transfers = new SagaClient(transferSaga, {
  sqs: instrument(new SQSClient({})),
  dynamodb,
  queueUrl: config[WALLET_API_ENV.transferQueueUrl],
  tableName: config[WALLET_API_ENV.transferTableName],
});

/** The wallet's HTTP API for transfers: starts the transfer saga and reports where it stands. */
export const handler = httpApi(
  {
    'POST /transfers': async (event, caller) => {
      const body = validated(z.object({ transferId: ClientId }).passthrough(), jsonBody(event));
      const { transferId, ...rest } = body;
      const input = validated(TransferInput, rest);
      if (!(await holdsSource(input.from, caller))) throw new HttpError(404, 'AccountNotFound', `there is no account ${input.from}`);
      try {
        await transfers.start(transferId, input);
      } catch (error) {
        if (error instanceof SagaConflictError) throw new HttpError(409, 'TransferConflict', `transfer ${transferId} was already requested with other input (source, target or amount); the same request again is accepted, another transfer needs another id`);
        throw error;
      }
      logger.info('transfer requested', { transferId });
      return json(202, { transferId, status: 'started' });
    },
    'GET /transfers/{transferId}': async (event, caller) => {
      const transferId = pathParameter(event, 'transferId', ClientId);
      const saga = await readAggregate<SagaState<TransferInput>>(dynamodb, config[WALLET_API_ENV.transferTableName], sagaKey(transferId));
      if (!saga || !(await holdsSource(saga.state.input.from, caller))) throw new HttpError(404, 'TransferNotFound', `there is no transfer ${transferId} (yet)`);
      const { status, completedSteps, pendingCompensations, failure, input, waiting } = saga.state;
      // While it runs: the step it waits for, going forward or undoing, and which attempt.
      const where = waiting ? { waiting: { step: waiting.step, phase: waiting.phase, attempt: waiting.attempt } } : {};
      return json(200, { transferId, status, from: input.from, to: input.to, amount: input.amount, completedSteps, pendingCompensations, ...where, ...(failure ? { failure } : {}) });
    },
  },
  { access: WALLET_ACCESS, logger },
);
