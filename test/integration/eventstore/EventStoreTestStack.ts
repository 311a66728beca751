import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { TransactionalOutbox } from '../../../lib/constructs/TransactionalOutbox';
import { LEDGER_SOURCE } from './ledger';

/**
 * Test-only: an event-sourced service's outbox (`test.ledger`, events kept for good) with one
 * ordered subscriber, a FIFO queue the test reads directly to see appended events relayed like any
 * outbox event.
 */
export class EventStoreTestStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const outbox = new TransactionalOutbox(this, 'Outbox', { source: LEDGER_SOURCE, keepEventsForever: true, removalPolicy: RemovalPolicy.DESTROY });
    const relayed = new sqs.Queue(this, 'Relayed', {
      queueName: `${this.stackName}-relayed.fifo`,
      fifo: true,
      visibilityTimeout: Duration.seconds(5),
      retentionPeriod: Duration.hours(1),
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: outbox.key,
      enforceSSL: true,
    });
    outbox.addOrderedSubscriber(relayed);

    const outputs = { TableName: outbox.table.tableName, RelayedQueueUrl: relayed.queueUrl };
    for (const [name, value] of Object.entries(outputs)) new CfnOutput(this, name, { value });
  }
}
