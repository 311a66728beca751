import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { Saga } from '../../../lib/constructs/Saga';
import { ToolkitFunction } from '../../../lib/constructs/ToolkitFunction';
import { TransactionalOutbox } from '../../../lib/constructs/TransactionalOutbox';
import { LEDGER_SOURCE } from './ledger';
import { transferSaga } from './transferSaga';

/**
 * Test-only: a tiny ledger service (outbox + a command queue and its handler) and the transfer saga
 * that orchestrates it (the Saga construct), so the saga toolkit is tested without the wallet domain.
 */
export class SagaTestStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const ledger = new TransactionalOutbox(this, 'Ledger', { source: LEDGER_SOURCE, removalPolicy: RemovalPolicy.DESTROY, keepEventsForever: true });
    const commandsDeadLetters = new sqs.Queue(this, 'LedgerCommandsDeadLetters', { enforceSSL: true, retentionPeriod: Duration.days(14) });
    const commands = new sqs.Queue(this, 'LedgerCommands', {
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(30),
      deadLetterQueue: { queue: commandsDeadLetters, maxReceiveCount: 3 },
    });
    const ledgerHandler = new ToolkitFunction(this, 'LedgerCommandHandler', { entry: 'test/integration/saga/ledgerCommandHandler.ts', timeout: Duration.seconds(5) });
    ledger.grantCommit(ledgerHandler);
    iam.Grant.addToPrincipal({ grantee: ledgerHandler, actions: ['dynamodb:GetItem'], resourceArns: [ledger.table.tableArn] });
    ledgerHandler.addEventSource(new sources.SqsEventSource(commands, { batchSize: 10, reportBatchItemFailures: true }));

    // Short function timeout and backoff keep retries quick in the tests.
    const saga = new Saga(this, 'Transfer', {
      entry: 'test/integration/saga/transferSagaHandler.ts',
      definition: transferSaga,
      eventBus: ledger.bus,
      eventSources: [LEDGER_SOURCE],
      commandQueues: { ledger: commands },
      timeout: Duration.seconds(5),
      backoffBase: Duration.seconds(1),
      backoffMax: Duration.seconds(2),
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const outputs = {
      LedgerTableName: ledger.table.tableName,
      LedgerCommandsDeadLetterQueueUrl: commandsDeadLetters.queueUrl,
      SagaTableName: saga.table.tableName,
      SagaQueueUrl: saga.queue.queueUrl,
      SagaDeadLetterQueueUrl: saga.deadLetterQueue.queueUrl,
    };
    for (const [name, value] of Object.entries(outputs)) new CfnOutput(this, name, { value });
  }
}
