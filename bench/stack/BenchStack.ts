import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { newDeadLetterQueue } from '../../lib/constructs/deadLetterQueue';
import { EventConsumer } from '../../lib/constructs/EventConsumer';
import { streamMapping } from '../../lib/constructs/streamMapping';
import { ToolkitFunction } from '../../lib/constructs/ToolkitFunction';
import { TransactionalOutbox } from '../../lib/constructs/TransactionalOutbox';
import { BENCH_ENV, BENCH_SOURCE, RESULT, type BenchPath } from '../benchNames';

/**
 * The benchmark's deployment. One outbox table read by two relays (two stream mappings): the
 * toolkit's relay (batched) and a naive one (one call per record), each publishing to a bus of its
 * own and to one ordered FIFO subscriber; on each bus a fan-out consumer. All four consumers, and
 * the floor (a separate table's stream → a Lambda doing nothing but record the arrival), write one
 * item per event into the results table.
 */
export class BenchStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const removalPolicy = RemovalPolicy.DESTROY;
    const results = new dynamodb.Table(this, 'Results', {
      partitionKey: { name: RESULT.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: RESULT.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy,
    });
    const recorderGrant = (fn: lambda.IFunction) =>
      iam.Grant.addToPrincipal({ grantee: fn, actions: ['dynamodb:PutItem'], resourceArns: [results.tableArn] });

    const ours = new TransactionalOutbox(this, 'Outbox', { source: BENCH_SOURCE, removalPolicy });
    const naive = new TransactionalOutbox(this, 'Naive', {
      source: BENCH_SOURCE,
      table: ours.table,
      encryptionKey: ours.key,
      removalPolicy,
      relay: { entry: 'bench/functions/naiveRelay.ts' },
    });

    const consumer = (name: string, path: BenchPath, source: ConstructorParameters<typeof EventConsumer>[2]['source']) => {
      const created = new EventConsumer(this, name, {
        entry: 'bench/functions/recordEffect.ts',
        source,
        environment: { [BENCH_ENV.resultsTable]: results.tableName, [BENCH_ENV.path]: path },
        removalPolicy,
      });
      recorderGrant(created.function);
      return created;
    };
    const consumers = {
      OursOrdered: consumer('OursOrdered', 'ours-ordered', { kind: 'ordered', outbox: ours }),
      OursFanout: consumer('OursFanout', 'ours-fanout', { kind: 'fanout', bus: ours.bus, pattern: { source: [BENCH_SOURCE] } }),
      NaiveOrdered: consumer('NaiveOrdered', 'naive-ordered', { kind: 'ordered', outbox: naive }),
      NaiveFanout: consumer('NaiveFanout', 'naive-fanout', { kind: 'fanout', bus: naive.bus, pattern: { source: [BENCH_SOURCE] } }),
    };

    // The floor: the same kind of stream mapping as the relays', to a function that only records.
    const floorTable = new dynamodb.Table(this, 'FloorTable', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      stream: dynamodb.StreamViewType.NEW_IMAGE,
      removalPolicy,
    });
    const floor = new ToolkitFunction(this, 'Floor', {
      entry: 'bench/functions/floorReceiver.ts',
      description: 'Bench floor: an empty stream → Lambda round trip',
      environment: { [BENCH_ENV.resultsTable]: results.tableName, [BENCH_ENV.path]: 'floor' },
    });
    recorderGrant(floor);
    streamMapping(this, 'FloorMapping', {
      fn: floor,
      table: floorTable,
      deadLetterQueue: newDeadLetterQueue(this, 'FloorDeadLetterQueue', ours.key, 'bench floor'),
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: 100,
      retryAttempts: 10,
      filters: [lambda.FilterCriteria.filter({ eventName: lambda.FilterRule.isEqual('INSERT') })],
    });

    const outputs = {
      OutboxTableName: ours.table.tableName,
      ResultsTableName: results.tableName,
      FloorTableName: floorTable.tableName,
      OursRelayLogGroup: ours.relayFunction.logGroup.logGroupName,
      NaiveRelayLogGroup: naive.relayFunction.logGroup.logGroupName,
      ...Object.fromEntries(Object.entries(consumers).map(([name, c]) => [`${name}LogGroup`, c.function.logGroup.logGroupName])),
    };
    for (const [name, value] of Object.entries(outputs)) new CfnOutput(this, name, { value });
  }
}
