import { Stack, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONNECTION_KEY, CONNECTION_TTL_ATTRIBUTE } from '../../functions/toolkit/live/DynamoConnectionStore';
import { LIVE_ENV } from '../../functions/toolkit/live/liveConfig';
import { LiveUpdates, type LiveUpdatesProps } from '../../lib/constructs/LiveUpdates';
import { expectTlsOnlyPolicy } from './support/expectTlsOnlyPolicy';
import { allow, permissionSet, permissionsOf, wildcardAllows } from './support/iamPermissions';
import { itPassesNagChecks } from './support/nagReport';
import { projectApp, SKIP_BUNDLING } from './support/projectApp';
import { renderIntrinsic } from './support/renderIntrinsic';

/** A read model like a ProjectionTable with `stream: true`, encrypted with a key of its own. */
function readModel(stack: Stack): dynamodb.Table {
  return new dynamodb.Table(stack, 'Board', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
    encryptionKey: new kms.Key(stack, 'BoardKey', { enableKeyRotation: true }),
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    stream: dynamodb.StreamViewType.NEW_IMAGE,
  });
}

function newLive(stack: Stack, props: Partial<LiveUpdatesProps> = {}): LiveUpdates {
  return new LiveUpdates(stack, 'Live', { table: readModel(stack), messageKind: 'board.row', ...props });
}

const logicalIdOf = (stack: Stack, construct: IConstruct): string => stack.getLogicalId(construct.node.defaultChild as CfnElement);

function propertiesOf(template: Template, stack: Stack, construct: IConstruct): Record<string, any> {
  const resource = template.toJSON().Resources[logicalIdOf(stack, construct)];
  if (!resource) throw new Error(`${construct.node.path} is not in the template`);
  return resource.Properties ?? {};
}

describe('LiveUpdates with its defaults', () => {
  let stack: Stack;
  let live: LiveUpdates;
  let board: dynamodb.ITable;
  let template: Template;

  beforeAll(() => {
    stack = new Stack(projectApp({ context: SKIP_BUNDLING }), 'Test');
    live = newLive(stack);
    board = live.node.scope!.node.findChild('Board') as dynamodb.ITable;
    template = Template.fromStack(stack);
  }, 60_000);

  describe('WebSocket API', () => {
    it('routes $connect, $disconnect and $default to the connections function, all one-way (the server only pushes)', () => {
      const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map((r) => r.Properties);
      expect(routes.map((r) => r.RouteKey).sort()).toEqual(['$connect', '$default', '$disconnect']);
      for (const route of routes) expect(route.RouteResponseSelectionExpression).toBeUndefined();
      template.resourceCountIs('AWS::ApiGatewayV2::RouteResponse', 0);
      const integrations = Object.values(template.findResources('AWS::ApiGatewayV2::Integration')).map((r) => r.Properties);
      expect(integrations).toHaveLength(1);
      expect(integrations[0]).toMatchObject({ IntegrationType: 'AWS_PROXY' });
      expect(renderIntrinsic(integrations[0]!.IntegrationUri)).toContain(`{{GetAtt:${logicalIdOf(stack, live.connectionsFunction)}.Arn}}`);
      for (const route of routes) expect(route.Target).toEqual({ 'Fn::Join': ['', ['integrations/', { Ref: expect.any(String) }]] });
    });

    it('has a stage `live`, deployed automatically, with throttling', () => {
      expect(propertiesOf(template, stack, live.stage)).toMatchObject({
        StageName: 'live',
        AutoDeploy: true,
        DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      });
      expect(propertiesOf(template, stack, live.stage).AccessLogSettings).toBeUndefined();
    });

    it('exposes the wss URL and the callback URL of that stage', () => {
      const apiRef = `{{Ref:${logicalIdOf(stack, live.api)}}}`;
      expect(renderIntrinsic(stack.resolve(live.url))).toBe(`wss://${apiRef}.execute-api.{{Ref:AWS::Region}}.{{Ref:AWS::URLSuffix}}/live`);
      expect(renderIntrinsic(stack.resolve(live.callbackUrl))).toBe(`https://${apiRef}.execute-api.{{Ref:AWS::Region}}.{{Ref:AWS::URLSuffix}}/live`);
    });
  });

  describe('connections table', () => {
    it('is keyed by connection id, drops items by TTL, has point-in-time recovery and the construct key', () => {
      expect(propertiesOf(template, stack, live.connectionsTable)).toMatchObject({
        KeySchema: [{ AttributeName: CONNECTION_KEY, KeyType: 'HASH' }],
        TimeToLiveSpecification: { AttributeName: CONNECTION_TTL_ATTRIBUTE, Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: stack.resolve(live.key.keyArn) },
      });
      expect(propertiesOf(template, stack, live.key)).toMatchObject({ EnableKeyRotation: true });
    });
  });

  describe('stream mapping', () => {
    let mapping: Record<string, any>;
    beforeAll(() => {
      mapping = propertiesOf(template, stack, live.eventSourceMapping);
    });

    it('feeds the push function from the read model stream, from now on, one batch per shard at a time', () => {
      expect(mapping).toMatchObject({
        EventSourceArn: stack.resolve(board.tableStreamArn),
        FunctionName: stack.resolve(live.pushFunction.functionName),
        StartingPosition: 'LATEST',
        ParallelizationFactor: 1,
        BatchSize: 100,
      });
    });

    it('passes inserts and modifications only', () => {
      const patterns = mapping.FilterCriteria.Filters.map((f: { Pattern: string }) => JSON.parse(f.Pattern));
      expect(patterns).toEqual([{ eventName: ['INSERT', 'MODIFY'] }]);
    });

    it('bisects failed batches, reports item failures, retries 3 times, then sends to the dead-letter queue', () => {
      expect(mapping).toMatchObject({
        BisectBatchOnFunctionError: true,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        MaximumRetryAttempts: 3,
        DestinationConfig: { OnFailure: { Destination: stack.resolve(live.deadLetterQueue.queueArn) } },
      });
    });

    it('has an encrypted, TLS-only dead-letter queue with an alarm', () => {
      expect(propertiesOf(template, stack, live.deadLetterQueue)).toMatchObject({ KmsMasterKeyId: stack.resolve(live.key.keyArn), MessageRetentionPeriod: 14 * 24 * 3600 });
      expectTlsOnlyPolicy(template, logicalIdOf(stack, live.deadLetterQueue));
      expect(propertiesOf(template, stack, live.deadLetterAlarm)).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
    });
  });

  describe('functions', () => {
    it('the push function knows the connections table, the callback URL, the message kind and the dead-letter queue', () => {
      expect(propertiesOf(template, stack, live.pushFunction).Environment.Variables).toMatchObject({
        [LIVE_ENV.connectionsTable]: stack.resolve(live.connectionsTable.tableName),
        [LIVE_ENV.callbackUrl]: stack.resolve(live.callbackUrl),
        [LIVE_ENV.messageKind]: 'board.row',
        [LIVE_ENV.deadLetterQueueUrl]: stack.resolve(live.deadLetterQueue.queueUrl),
        [LIVE_ENV.maxConcurrency]: '20',
      });
    });

    it('the connections function knows the connections table and keeps a connection two hours', () => {
      expect(propertiesOf(template, stack, live.connectionsFunction).Environment.Variables).toMatchObject({
        [LIVE_ENV.connectionsTable]: stack.resolve(live.connectionsTable.tableName),
        [LIVE_ENV.connectionTtlSeconds]: '7200',
      });
    });
  });

  describe('IAM', () => {
    const keyActions = ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'];
    const logs = (fn: LiveUpdates['pushFunction']) => allow(['logs:CreateLogStream', 'logs:PutLogEvents'], stack.resolve(fn.logGroup.logGroupArn));

    it('the connections function may only put and delete connections (and write its log)', () => {
      expect(permissionsOf(template, stack, live.connectionsFunction.role)).toEqual(
        permissionSet(
          allow(['dynamodb:PutItem', 'dynamodb:DeleteItem'], stack.resolve(live.connectionsTable.tableArn)),
          allow(keyActions, stack.resolve(live.key.keyArn)),
          logs(live.connectionsFunction),
        ),
      );
    });

    it('the push function may post to and close this stage\'s connections only, scan and delete connections, read the stream and dead-letter', () => {
      const manageConnections = (method: string) => ({
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':execute-api:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':', { Ref: logicalIdOf(stack, live.api) }, `/live/${method}/@connections/*`]],
      });
      expect(permissionsOf(template, stack, live.pushFunction.role)).toEqual(
        permissionSet(
          allow(['execute-api:ManageConnections'], [manageConnections('POST'), manageConnections('DELETE')]),
          allow(['dynamodb:Scan', 'dynamodb:DeleteItem'], stack.resolve(live.connectionsTable.tableArn)),
          allow(keyActions, stack.resolve(live.key.keyArn)),
          allow(['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'], stack.resolve(board.tableStreamArn)),
          allow(['dynamodb:ListStreams'], '*'),
          allow(['kms:Decrypt'], stack.resolve(board.encryptionKey!.keyArn)),
          allow(['sqs:SendMessage'], stack.resolve(live.deadLetterQueue.queueArn)),
          allow(['kms:GenerateDataKey', 'kms:Decrypt'], stack.resolve(live.key.keyArn)),
          logs(live.pushFunction),
        ),
      );
    });

    it('API Gateway may invoke the connections function from this API only', () => {
      const permissions = Object.values(template.findResources('AWS::Lambda::Permission')).map((r) => r.Properties);
      expect(permissions.length).toBeGreaterThan(0);
      for (const permission of permissions) {
        expect(permission).toMatchObject({ Action: 'lambda:InvokeFunction', Principal: 'apigateway.amazonaws.com', FunctionName: stack.resolve(live.connectionsFunction.functionArn) });
        expect(renderIntrinsic(permission.SourceArn)).toContain(`:{{Ref:${logicalIdOf(stack, live.api)}}}/`);
      }
    });

    it('grants no wildcard action anywhere', () => {
      expect(wildcardAllows(template)).toEqual([]);
    });
  });
});

describe('LiveUpdates options', () => {
  it('writes a JSON access log without the client IP to a given log group', () => {
    const stack = new Stack(projectApp({ context: SKIP_BUNDLING }), 'Test');
    const accessLogGroup = new logs.LogGroup(stack, 'Access');
    const live = newLive(stack, { accessLogGroup, stageName: 'updates', throttle: { rateLimit: 5, burstLimit: 10 } });
    const template = Template.fromStack(stack);

    const stage = propertiesOf(template, stack, live.stage);
    expect(stage).toMatchObject({ StageName: 'updates', DefaultRouteSettings: { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 } });
    expect(stage.AccessLogSettings.DestinationArn).toEqual(stack.resolve(accessLogGroup.logGroupArn));
    const format = JSON.parse(stage.AccessLogSettings.Format);
    expect(format).toMatchObject({ requestId: '$context.requestId', connectionId: '$context.connectionId', routeKey: '$context.routeKey' });
    expect(stage.AccessLogSettings.Format).not.toContain('sourceIp');
  });

  it('refuses a table without a stream, a bad message kind, stage name and concurrency, naming every problem', () => {
    const stack = new Stack(projectApp({ context: SKIP_BUNDLING }), 'Test');
    const table = new dynamodb.Table(stack, 'NoStream', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } });
    expect(() => new LiveUpdates(stack, 'Live', { table, messageKind: 'Board Row', stageName: 'a/b', maxConcurrency: 0 })).toThrow(
      /`table` must have a stream.*`messageKind`.*`stageName`.*`maxConcurrency`/,
    );
  });
});

describe('LiveUpdates nag checks', () => {
  describe('with its defaults', () => {
    itPassesNagChecks((app) => newLive(new Stack(app, 'LiveDefaults')));
  });
  describe('with an access log, in a stack with an explicit account and region', () => {
    itPassesNagChecks((app) => {
      const stack = new Stack(app, 'LiveLogged', { env: { account: '111111111111', region: 'eu-west-1' } });
      newLive(stack, { accessLogGroup: new logs.LogGroup(stack, 'Access', { retention: logs.RetentionDays.ONE_MONTH }) });
    });
  });
});
