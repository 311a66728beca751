import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';
import { FRAUD_SOURCE, WALLET_SOURCE } from '../../functions/wallet/schemas';
import { transferSaga } from '../../functions/wallet/transferSaga';
import { Saga } from '../constructs/Saga';
import { EventConsumer } from '../constructs/EventConsumer';
import { PersonalDataVault } from '../constructs/PersonalDataVault';
import { ServiceHttpApi } from '../constructs/ServiceHttpApi';
import { ToolkitFunction } from '../constructs/ToolkitFunction';
import { TransactionalOutbox } from '../constructs/TransactionalOutbox';
import { grantService } from './coffee/grantService';
import { WALLET_ACCESS, WALLET_ROLES } from '../../functions/wallet/access';
import { UserDirectory } from '../constructs/UserDirectory';

/**
 * The wallet and its anti-fraud service. The wallet is event-sourced: each account is a stream in
 * the wallet's outbox table (kept for good), appended with an expected version; its relay also
 * publishes v1 copies of `wallet.transaction.added` during the v2 migration. The anti-fraud service
 * follows the wallet's log per account (ordered) and publishes `fraud.detected`; the wallet flags
 * the account, after which debits are refused until it is cleared.
 */
export class WalletStack extends Stack {
  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, props);
    const removalPolicy = RemovalPolicy.DESTROY;
    const bus = new events.EventBus(this, 'Bus', { eventBusName: 'wallet', description: 'The wallet’s and the anti-fraud service’s events' });

    const wallet = new TransactionalOutbox(this, 'Wallet', {
      source: WALLET_SOURCE,
      eventBus: bus,
      keepEventsForever: true,
      relay: { entry: 'functions/wallet/relayHandler.ts' },
      removalPolicy,
    });
    // The holders' and payees' names are sealed per account; erasing an account destroys its key.
    const holders = new PersonalDataVault(this, 'Holders', { removalPolicy });
    // `ops privacy erase <accountId>`: destroys the account's key and commits privacy.subject.erased to
    // the wallet's log, which the anti-fraud service follows (and acknowledges: it holds no names).
    const eraseHolder = holders.addEraseFunction(wallet, 'EraseHolder');

    const api = new ToolkitFunction(this, 'Api', {
      entry: 'functions/wallet/walletApiHandler.ts',
      description: 'Wallet HTTP API: open accounts, add transactions, clear a flag, read an account',
      environment: { POWERTOOLS_SERVICE_NAME: 'wallet' },
    });
    // An event-sourced load reads the snapshot (GetItem) and the events after it (Query).
    grantService(wallet, api, 'dynamodb:GetItem', 'dynamodb:Query');
    holders.grantSeal(api);

    const fraudOutbox = new TransactionalOutbox(this, 'Fraud', { source: FRAUD_SOURCE, eventBus: bus, removalPolicy });
    const fraudWatch = new EventConsumer(this, 'FraudWatch', {
      entry: 'functions/fraud/fraudWatchHandler.ts',
      source: { kind: 'ordered', outbox: wallet },
      // Catches up from the wallet's log when an account's events arrive after a gap.
      replayLogs: [wallet],
      environment: { POWERTOOLS_SERVICE_NAME: 'fraud' },
      removalPolicy,
    });
    grantService(fraudOutbox, fraudWatch.function, 'dynamodb:GetItem');

    const flagOnFraud = new EventConsumer(this, 'FlagOnFraud', {
      entry: 'functions/wallet/fraudDetectedHandler.ts',
      source: { kind: 'fanout', bus, pattern: { source: [FRAUD_SOURCE], detailType: ['fraud.detected'] } },
      environment: { POWERTOOLS_SERVICE_NAME: 'wallet' },
      encryptionKey: wallet.key,
      removalPolicy,
    });
    grantService(wallet, flagOnFraud.function, 'dynamodb:GetItem', 'dynamodb:Query');

    // Transfers: an orchestrated saga (state in DynamoDB, advanced by the wallet's events) that sends
    // the wallet commands through its command queue, a toolkit consumer (inbox, backoff, DLQ).
    const commands = new EventConsumer(this, 'Commands', {
      entry: 'functions/wallet/walletCommandHandler.ts',
      source: { kind: 'commands' },
      timeout: Duration.seconds(10),
      environment: { POWERTOOLS_SERVICE_NAME: 'wallet' },
      encryptionKey: wallet.key,
      removalPolicy,
    });
    grantService(wallet, commands.function, 'dynamodb:GetItem', 'dynamodb:Query');
    const transfersSaga = new Saga(this, 'Transfers', {
      entry: 'functions/wallet/transferSagaHandler.ts',
      definition: transferSaga,
      eventBus: bus,
      eventSources: [WALLET_SOURCE],
      commandQueues: { wallet: commands.queue },
      removalPolicy,
    });
    const transfersApi = new ToolkitFunction(this, 'TransfersApi', {
      entry: 'functions/wallet/transfersApiHandler.ts',
      description: 'Wallet HTTP API: start a transfer, read where it stands',
      environment: { POWERTOOLS_SERVICE_NAME: 'wallet' },
    });
    // Starts transfers (records the request, sends it to the saga's queue) and reads where they stand.
    transfersSaga.grantStart(transfersApi);
    transfersSaga.table.grant(transfersApi, 'dynamodb:GetItem');
    transfersSaga.table.encryptionKey?.grant(transfersApi, 'kms:Decrypt');
    // Only the holder of the source account may start or read a transfer: it loads the account and opens its holder id.
    wallet.grantRead(transfersApi);
    holders.grantOpen(transfersApi);

    // Account holders and fraud operators sign in here; no wallet route is public.
    const users = new UserDirectory(this, 'Users', { roles: WALLET_ROLES, outputPrefix: 'Wallet', removalPolicy });
    new ServiceHttpApi(this, 'Http', {
      description: 'Wallet: accounts, transactions and transfers',
      outputPrefix: 'Wallet',
      access: WALLET_ACCESS,
      authorizer: users.authorizer,
      routes: {
        'POST /accounts': api,
        'POST /accounts/{accountId}/transactions': api,
        'POST /accounts/{accountId}/clear': api,
        'GET /accounts/{accountId}': api,
        'POST /transfers': transfersApi,
        'GET /transfers/{transferId}': transfersApi,
      },
    });

    const outputs = {
      WalletTableName: wallet.table.tableName,
      FraudTableName: fraudOutbox.table.tableName,
      WalletBusName: bus.eventBusName,
      FraudWatchQueueUrl: fraudWatch.queue.queueUrl,
      TransferTableName: transfersSaga.table.tableName,
      CommandHandlerFunctionName: commands.function.functionName,
      CommandQueueUrl: commands.queue.queueUrl,
      CommandDeadLetterQueueUrl: commands.deadLetterQueue.queueUrl,
      TransferDeadLetterQueueUrl: transfersSaga.deadLetterQueue.queueUrl,
      EraseHolderFunctionName: eraseHolder.functionName,
      FraudWatchDeadLetterQueueUrl: fraudWatch.deadLetterQueue.queueUrl,
    };
    for (const [name, value] of Object.entries(outputs)) new CfnOutput(this, name, { value });
  }
}
