import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration, WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ToolkitFunction } from '../../../lib/constructs/ToolkitFunction';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { HttpUserPoolAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';

/**
 * What the conformance tests deploy: streams and queues feeding the probe function; an HTTP API, a
 * WebSocket API with a push function, and a scheduled rule feeding the API probe. Test-only.
 */
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
    this.addApiProbes(log);
  }

  /** API Gateway (HTTP API, payload 2.0, CORS; WebSocket API with server push) and a scheduled rule. */
  private addApiProbes(log: dynamodb.Table): void {
    const apiProbe = new ToolkitFunction(this, 'ApiProbe', {
      entry: 'test/conformance/probe/apiProbeHandler.ts',
      timeout: Duration.seconds(5),
      environment: { PROBE_LOG_TABLE: log.tableName },
    });
    log.grantWriteData(apiProbe);

    const http = new apigwv2.HttpApi(this, 'ProbeHttpApi', {
      corsPreflight: {
        allowOrigins: ['*'],
        allowMethods: [apigwv2.CorsHttpMethod.GET, apigwv2.CorsHttpMethod.POST],
        allowHeaders: ['content-type'],
      },
    });
    const httpIntegration = new HttpLambdaIntegration('ApiProbeIntegration', apiProbe);
    http.addRoutes({ path: '/things', methods: [apigwv2.HttpMethod.POST], integration: httpIntegration });
    http.addRoutes({ path: '/things/{id}', methods: [apigwv2.HttpMethod.GET], integration: httpIntegration });
    // A Cognito user pool and a route behind its JWT authorizer (what the reference stacks' UserDirectory
    // does, written out plainly here): what the emulator verifies of a token, and what the function sees.
    const pool = new cognito.UserPool(this, 'ProbeUserPool', { selfSignUpEnabled: false, removalPolicy: RemovalPolicy.DESTROY });
    const client = pool.addClient('ProbeClient', { authFlows: { userPassword: true }, generateSecret: false });
    const otherClient = pool.addClient('ProbeOtherClient', { authFlows: { userPassword: true }, generateSecret: false });
    for (const group of ['probe-a', 'probe-b']) new cognito.CfnUserPoolGroup(this, `ProbeGroup-${group}`, { userPoolId: pool.userPoolId, groupName: group });
    http.addRoutes({ path: '/secured', methods: [apigwv2.HttpMethod.GET], integration: httpIntegration, authorizer: new HttpUserPoolAuthorizer('ProbeAuthorizer', pool, { userPoolClients: [client] }) });
    new CfnOutput(this, 'ProbeUserPoolId', { value: pool.userPoolId });
    new CfnOutput(this, 'ProbeUserPoolClientId', { value: client.userPoolClientId });
    new CfnOutput(this, 'ProbeOtherClientId', { value: otherClient.userPoolClientId });

    const wsIntegration = (id: string) => new WebSocketLambdaIntegration(id, apiProbe);
    const live = new apigwv2.WebSocketApi(this, 'ProbeWebSocketApi', {
      connectRouteOptions: { integration: wsIntegration('WsConnect') },
      disconnectRouteOptions: { integration: wsIntegration('WsDisconnect') },
      defaultRouteOptions: { integration: wsIntegration('WsDefault') },
    });
    const stage = new apigwv2.WebSocketStage(this, 'ProbeLiveStage', { webSocketApi: live, stageName: 'live', autoDeploy: true });
    // The server-push function gets the stage's callback URL as AWS gives it (https://<id>.execute-api…/live);
    // the local deploy rewrites it to the emulator's path-style form (localstack/fixups.ts).
    const push = new ToolkitFunction(this, 'PushProbe', {
      entry: 'test/conformance/probe/pushProbeHandler.ts',
      timeout: Duration.seconds(5),
      environment: { PROBE_CALLBACK_URL: stage.callbackUrl },
    });
    stage.grantManagementApiAccess(push);

    // Fires every minute: the tests check the rule's CloudFormation, not the clock.
    const schedule = new events.Rule(this, 'ProbeSchedule', {
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(apiProbe, { retryAttempts: 2 })],
    });

    new CfnOutput(this, 'HttpApiId', { value: http.apiId });
    new CfnOutput(this, 'HttpApiUrl', { value: http.apiEndpoint });
    new CfnOutput(this, 'LiveApiId', { value: live.apiId });
    new CfnOutput(this, 'LiveStageName', { value: stage.stageName });
    new CfnOutput(this, 'LiveCallbackUrl', { value: stage.callbackUrl });
    new CfnOutput(this, 'PushFunctionName', { value: push.functionName });
    new CfnOutput(this, 'ApiProbeFunctionName', { value: apiProbe.functionName });
    new CfnOutput(this, 'ScheduleRuleName', { value: schedule.ruleName });
    new CfnOutput(this, 'ScheduleRuleArn', { value: schedule.ruleArn });
  }
}
