import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { EventConsumer } from '../../../lib/constructs/EventConsumer';
import { ProjectionTable } from '../../../lib/constructs/ProjectionTable';
import { TransactionalOutbox } from '../../../lib/constructs/TransactionalOutbox';
import { COUNTER_INCREMENTED, COUNTER_SOURCE } from './counterEvents';

/**
 * Test-only: an outbox (`test.counter`) and a fan-out consumer running a counting projection that
 * may fill gaps from the outbox's log (`replayLogs`), with its projection table.
 */
export class ProjectionTestStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const outbox = new TransactionalOutbox(this, 'Outbox', { source: COUNTER_SOURCE, removalPolicy: RemovalPolicy.DESTROY });
    const projection = new ProjectionTable(this, 'Counts', { removalPolicy: RemovalPolicy.DESTROY });
    // Short timeouts and backoff keep the tests quick (visibility timeout = 6 × 5 s).
    const consumer = new EventConsumer(this, 'Counting', {
      entry: 'test/integration/projection/countingProjection.ts',
      source: { kind: 'fanout', bus: outbox.bus, pattern: { source: [COUNTER_SOURCE], detailType: [COUNTER_INCREMENTED] } },
      replayLogs: [outbox],
      maxAttempts: 4,
      timeout: Duration.seconds(5),
      backoffBase: Duration.seconds(1),
      backoffMax: Duration.seconds(2),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    projection.grantProject(consumer.function);

    const outputs = {
      OutboxTableName: outbox.table.tableName,
      ProjectionTableName: projection.table.tableName,
      QueueUrl: consumer.queue.queueUrl,
      DeadLetterQueueUrl: consumer.deadLetterQueue.queueUrl,
    };
    for (const [name, value] of Object.entries(outputs)) new CfnOutput(this, name, { value });
  }
}
