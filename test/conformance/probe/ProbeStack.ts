import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ToolkitFunction } from '../../../lib/constructs/ToolkitFunction';

/** What the conformance tests deploy: streams and queues feeding the probe function. Test-only. */
export class ProbeStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const log = new dynamodb.Table(this, 'ProbeLog', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const streamed = new dynamodb.Table(this, 'ProbeStreamed', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      stream: dynamodb.StreamViewType.NEW_IMAGE,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const queue = new sqs.Queue(this, 'ProbeFifo', { queueName: 'conformance-probe.fifo', fifo: true, visibilityTimeout: Duration.seconds(5) });
    const probe = new ToolkitFunction(this, 'Probe', {
      entry: 'test/conformance/probe/probeHandler.ts',
      timeout: Duration.seconds(5),
      environment: { PROBE_LOG_TABLE: log.tableName },
    });
    log.grantReadWriteData(probe);
    probe.addEventSource(
      new sources.DynamoEventSource(streamed, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 10,
        reportBatchItemFailures: true,
        retryAttempts: 5,
        filters: [lambda.FilterCriteria.filter({ eventName: lambda.FilterRule.isEqual('INSERT'), dynamodb: { NewImage: { kind: { S: lambda.FilterRule.isEqual('probe') } } } })],
      }),
    );
    probe.addEventSource(new sources.SqsEventSource(queue, { batchSize: 10, reportBatchItemFailures: true }));
    // A second stream whose mapping gives up after one retry and sends what failed to a queue
    // (bounded retries + on-failure destination, as the relay's mapping). Its own table, so a batch
    // retried forever by an emulator cannot hold up the other probes. Max record age bounds that.
    const retried = new dynamodb.Table(this, 'ProbeRetried', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      stream: dynamodb.StreamViewType.NEW_IMAGE,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const onFailure = new sqs.Queue(this, 'ProbeOnFailure');
    probe.addEventSource(
      new sources.DynamoEventSource(retried, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 10,
        reportBatchItemFailures: true,
        bisectBatchOnError: true,
        retryAttempts: 1,
        maxRecordAge: Duration.seconds(60),
        onFailure: new sources.SqsDlq(onFailure),
      }),
    );
    // A standard queue whose mapping the tests disable and enable, as a circuit breaker does.
    const switched = new sqs.Queue(this, 'ProbeSwitched', { visibilityTimeout: Duration.seconds(5) });
    const switchedSource = new sources.SqsEventSource(switched, { batchSize: 10, reportBatchItemFailures: true });
    probe.addEventSource(switchedSource);
    new CfnOutput(this, 'SwitchedQueueUrl', { value: switched.queueUrl });
    new CfnOutput(this, 'SwitchedQueueArn', { value: switched.queueArn });
    new CfnOutput(this, 'SwitchedMappingId', { value: switchedSource.eventSourceMappingId });
    new CfnOutput(this, 'ProbeFunctionName', { value: probe.functionName });
    new CfnOutput(this, 'ProbeFunctionArn', { value: probe.functionArn });
    new CfnOutput(this, 'RetriedTableName', { value: retried.tableName });
    new CfnOutput(this, 'OnFailureQueueUrl', { value: onFailure.queueUrl });
    new CfnOutput(this, 'LogTableName', { value: log.tableName });
    new CfnOutput(this, 'StreamedTableName', { value: streamed.tableName });
    new CfnOutput(this, 'FifoQueueUrl', { value: queue.queueUrl });
  }
}
