import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as z from 'zod';
import { DomainRejection } from '../toolkit/eventsource';
import { httpApi, HttpError, json, jsonBody, pathParameter, validated } from '../toolkit/http/httpApi';
import { HumanText } from '../toolkit/http/humanText';
import { PersonalDataSealer } from '../toolkit/privacy/PersonalDataSealer';
import { ClientId, Currency } from './schemas';
import { available, MAX_AMOUNT, type WalletCommand, type WalletState } from './wallet';
import { walletStore } from './walletStore';
import { instrument } from '../toolkit/observability';
import { WALLET_ACCESS } from './access';
import { holds } from './holders';
import type { Caller } from '../toolkit/http/access';

const logger = new Logger({ serviceName: 'wallet' });
const dynamodb = instrument(new DynamoDBClient({}));
const sealer = PersonalDataSealer.fromEnvironment({ dynamodb });
const store = walletStore(dynamodb, sealer);

const Id = ClientId;
/** Signed minor units, not 0, at most MAX_AMOUNT either way (the decider checks it again for its other callers). */
const Money = z.object({ amount: z.number().int().min(-MAX_AMOUNT).max(MAX_AMOUNT).refine((n) => n !== 0, 'must not be 0'), currency: Currency }).strict();
const OpenAccountBody = z.object({ accountId: Id, holderName: HumanText(200), currency: Currency }).strict();
const AddTransactionBody = z.object({ transactionId: Id, amount: Money, payee: z.object({ name: HumanText(200), country: z.string().regex(/^[A-Z]{2}$/, 'an ISO 3166-1 alpha-2 code') }).strict().optional() }).strict();
/** Nothing: who cleared it is the signed-in fraud operator, not something the body could claim. */
const ClearBody = z.object({}).strict();

const STATUS: Readonly<Record<string, number>> = {
  AccountNotFound: 404,
  AccountExists: 409,
  AccountFlagged: 409,
  InsufficientFunds: 409,
  BalanceLimitExceeded: 409,
  CurrencyMismatch: 422,
  InvalidAmount: 422,
  AmountTooLarge: 422,
  InvalidTransactionId: 400,
  NotFlagged: 409,
  NoReservation: 409,
  TransactionIdReused: 409,
};

/** Runs a command on an account's stream; a rejection becomes a 4xx that says why. */
async function run(accountId: string, command: WalletCommand) {
  try {
    // Concurrent commands on one account: the loser decides again on fresh state.
    const handled = await store.handle(accountId, command, { retries: 10 });
    logger.info('command handled', { accountId, kind: command.kind, events: handled.events.length, version: handled.version });
    return handled;
  } catch (error) {
    if (error instanceof DomainRejection) throw new HttpError(STATUS[error.code] ?? 409, error.code, error.message);
    throw error;
  }
}

const accountIdOf = (event: APIGatewayProxyEventV2) => pathParameter(event, 'accountId', Id);

/**
 * The account, if the caller may see it: its holder, or (`anyFor`) a caller with one of those roles.
 * Anyone else's account is answered as one that does not exist: the caller learns nothing of it.
 */
async function accountFor(accountId: string, caller: Caller, anyFor: readonly string[] = []) {
  const loaded = await store.load(accountId);
  if (loaded.state.opened && (anyFor.some((role) => caller.roles.has(role)) || (await holds(loaded.state, caller.sub, sealer)))) return loaded;
  throw new HttpError(404, 'AccountNotFound', `there is no account ${accountId}`);
}

/** Whether the open account was opened by this very request: same caller and currency, and the sealed holder name opens to the one asked. */
async function sameOpening(state: WalletState, body: { holderName: string; currency: string }, caller: Caller): Promise<boolean> {
  if (!state.opened || state.currency !== body.currency || state.holderName === undefined || !(await holds(state, caller.sub, sealer))) return false;
  // Sealed as JSON under its field's name (`sealPersonalFields`).
  return JSON.parse(await sealer.open(state.holderName, 'name')) === body.holderName;
}

/** The wallet's HTTP API for accounts: an event-sourced account per `accountId` (transfers: transfersApiHandler.ts). */
export const handler = httpApi(
  {
    'POST /accounts': async (event, caller) => {
      const body = validated(OpenAccountBody, jsonBody(event));
      try {
        const handled = await run(body.accountId, { kind: 'OpenAccount', accountId: body.accountId, holderName: body.holderName, holderUserId: caller.sub, currency: body.currency, at: new Date().toISOString() });
        return json(201, { accountId: body.accountId, version: handled.version });
      } catch (error) {
        if (!(error instanceof HttpError && error.error === 'AccountExists')) throw error;
        // A retry (same holder, same currency) is answered as the first time; another request reusing the id is a 409.
        const { state, version } = await store.load(body.accountId);
        if (await sameOpening(state, body, caller)) return json(201, { accountId: body.accountId, version });
        throw new HttpError(409, 'AccountExists', `account ${body.accountId} is already open for another request (another holder or currency); a new account needs a new id`);
      }
    },
    'POST /accounts/{accountId}/transactions': async (event, caller) => {
      const accountId = accountIdOf(event);
      const body = validated(AddTransactionBody, jsonBody(event));
      await accountFor(accountId, caller);
      const handled = await run(accountId, { kind: 'AddTransaction', accountId, ...body, at: new Date().toISOString() });
      // A retry (same id, same request) is answered as the first time: 201, nothing added (the
      // balance and version are the account's now). The same id with another request is a 409.
      return json(201, { accountId, transactionId: body.transactionId, balance: handled.state.balance, version: handled.version });
    },
    'POST /accounts/{accountId}/clear': async (event, caller) => {
      const accountId = accountIdOf(event);
      validated(ClearBody, jsonBody(event));
      // The user pool's sub: an opaque id with the shape of a client id (a UUID), kept in the audit trail.
      const handled = await run(accountId, { kind: 'ClearAccount', accountId, clearedBy: caller.sub, at: new Date().toISOString() });
      return json(200, { accountId, version: handled.version });
    },
    'GET /accounts/{accountId}': async (event, caller) => {
      const accountId = accountIdOf(event);
      const { state, version } = await accountFor(accountId, caller, ['fraud-operator']);
      return json(200, { accountId, currency: state.currency, balance: state.balance, available: available(state), flagged: state.flagged !== undefined, version });
    },
  },
  { access: WALLET_ACCESS, logger },
);
