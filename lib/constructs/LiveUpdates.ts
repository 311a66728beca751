import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import { Construct } from 'constructs';
import { CONNECTION_KEY, CONNECTION_TTL_ATTRIBUTE } from '../../functions/toolkit/live/DynamoConnectionStore';
import { DEFAULT_CONNECTION_TTL_SECONDS, LIVE_ENV, MessageKindSchema } from '../../functions/toolkit/live/liveConfig';
import { deadLetterQueueAlarm } from './alarms';
import { newDeadLetterQueue } from './deadLetterQueue';
import { streamMapping } from './streamMapping';
import { ToolkitFunction } from './ToolkitFunction';

export interface LiveUpdatesProps {
  /**
   * The read model whose changes are pushed: a table with a stream that has new images (e.g. a
   * `ProjectionTable` with `stream: true`). Items are `{ state, revision, … }`; every connected
   * client receives each changed item's `state`, so put in it only what every client may see.
   */
  readonly table: dynamodb.ITable;
  /** The `kind` of every message, e.g. `board.row`: clients receive `{ kind, row: { ...state, revision } }`. */
  readonly messageKind: string;
  /** @default 'live' */
  readonly stageName?: string;
  /** Steady-state and burst request limits of the stage (connects and messages). @default 50 per second, burst 100 */
  readonly throttle?: apigwv2.ThrottleSettings;
  /**
   * Authorizes `$connect` (the only WebSocket route that can have one).
   * @default none: anyone may connect and receive what is pushed (a public read model)
   */
  readonly connectAuthorizer?: apigwv2.IWebSocketRouteAuthorizer;
  /**
   * Where the stage writes its access log (JSON, no source IP).
   * @default no access log: on WebSocket APIs it needs API Gateway's account-level CloudWatch Logs
   * role (one per account and region, set outside this construct); without that role the stage
   * fails to deploy
   */
  readonly accessLogGroup?: logs.ILogGroup;
  /** Records per push invocation. @default 100 */
  readonly batchSize?: number;
  /** Times the stream mapping retries a failed batch before it goes to the dead-letter queue. @default 3 */
  readonly retryAttempts?: number;
  /** Connections pushed to at the same time by one invocation. @default 20 */
  readonly maxConcurrency?: number;
  /** The key that encrypts the connections table and the dead-letter queue. @default a new key with rotation on */
  readonly encryptionKey?: kms.IKey;
  /** What the dead-letter alarm does. @default none: the alarm is still created */
  readonly alarmActions?: cloudwatch.IAlarmAction[];
  /** Of the connections table and the new key. @default RemovalPolicy.DESTROY: connections live two hours at most */
  readonly removalPolicy?: RemovalPolicy;
}

/** Every context variable of the access log but the client's IP address (personal data). */
const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  eventType: '$context.eventType',
  routeKey: '$context.routeKey',
  connectionId: '$context.connectionId',
  status: '$context.status',
  integrationStatus: '$context.integrationStatus',
  error: '$context.error.message',
});

/**
 * A backend-for-frontend push channel: a WebSocket API whose clients receive every change of a
 * read-model table, as it happens and in per-item order. `$connect`/`$disconnect` keep a table of
 * open connections (with a TTL, as `$disconnect` is not guaranteed); a function on the table's
 * stream posts `{ kind, row: { ...state, revision } }` to each connection, deletes the ones that are
 * gone, and dead-letters items that are not valid rows. The server only pushes: a client applies a
 * row only if its `revision` is greater than the one it shows, and after a (re)connect reloads the
 * read model through its query API, so a missed or duplicated message does no harm.
 */
export class LiveUpdates extends Construct {
  public readonly api: apigwv2.WebSocketApi;
  public readonly stage: apigwv2.WebSocketStage;
  /** `wss://<api-id>.execute-api.<region>.amazonaws.com/<stage>`: what a browser connects to. */
  public readonly url: string;
  /** `https://<api-id>.execute-api.<region>.amazonaws.com/<stage>`: the `@connections` endpoint. */
  public readonly callbackUrl: string;
  public readonly connectionsTable: dynamodb.Table;
  public readonly key: kms.IKey;
  /** Serves `$connect`, `$disconnect` and `$default`. */
  public readonly connectionsFunction: ToolkitFunction;
  /** Pushes the table's changes to every connection. */
  public readonly pushFunction: ToolkitFunction;
  /** The push function's stream mapping: INSERT and MODIFY only, bisect on error, bounded retries, DLQ. */
  public readonly eventSourceMapping: lambda.EventSourceMapping;
  public readonly deadLetterQueue: sqs.Queue;
  public readonly deadLetterAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: LiveUpdatesProps) {
    super(scope, id);
    validate(props);
    const stageName = props.stageName ?? 'live';
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;
    const stack = Stack.of(this);

    this.key =
      props.encryptionKey ??
      new kms.Key(this, 'Key', { enableKeyRotation: true, description: `Encrypts the ${this.node.path} connections table and dead-letter queue`, removalPolicy });

    this.connectionsTable = new dynamodb.Table(this, 'Connections', {
      partitionKey: { name: CONNECTION_KEY, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: CONNECTION_TTL_ATTRIBUTE,
      removalPolicy,
    });

    this.deadLetterQueue = newDeadLetterQueue(this, 'DeadLetterQueue', this.key, 'live-updates');
    this.deadLetterAlarm = deadLetterQueueAlarm(
      this,
      'DeadLetterAlarm',
      this.deadLetterQueue,
      `Read-model changes were not pushed to ${this.node.path} clients: see its dead-letter queue`,
      props.alarmActions,
    );

    this.connectionsFunction = new ToolkitFunction(this, 'ConnectionsHandler', {
      entry: 'functions/toolkit/live/connectionsHandler.ts',
      description: `WebSocket $connect/$disconnect/$default of ${this.node.path}`,
      timeout: Duration.seconds(10),
      environment: {
        POWERTOOLS_SERVICE_NAME: 'live-updates',
        [LIVE_ENV.connectionsTable]: this.connectionsTable.tableName,
        [LIVE_ENV.connectionTtlSeconds]: String(DEFAULT_CONNECTION_TTL_SECONDS),
      },
    });
    grantConnectionsTable(this.connectionsFunction, this.connectionsTable, this.key, ['dynamodb:PutItem', 'dynamodb:DeleteItem']);

    const integration = new WebSocketLambdaIntegration('Connections', this.connectionsFunction);
    this.api = new apigwv2.WebSocketApi(this, 'Api', {
      description: `Live updates of ${this.node.path}: the server pushes { kind: '${props.messageKind}', row }`,
      connectRouteOptions: { integration, ...(props.connectAuthorizer ? { authorizer: props.connectAuthorizer } : {}) },
      disconnectRouteOptions: { integration },
      // One-way: a client's message (e.g. a ping that keeps an idle connection open) is accepted and
      // ignored; the server only pushes. (No route response: the local cloud cannot deploy one.)
      defaultRouteOptions: { integration },
    });
    const publicRoutes = props.connectAuthorizer ? ['$disconnect', '$default'] : ['$connect', '$disconnect', '$default'];
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        `Routes ${publicRoutes.join(', ')} have no authorizer: API Gateway authorizes WebSocket connections on $connect only` +
        (props.connectAuthorizer ? '' : ', and this channel pushes a public read model (the construct documents that every client sees every row)') +
        '. Clients cannot change anything: $default ignores what they send.',
    });

    this.stage = new apigwv2.WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName,
      autoDeploy: true,
      throttle: props.throttle ?? { rateLimit: 50, burstLimit: 100 },
      ...(props.accessLogGroup
        ? { accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(props.accessLogGroup), format: apigateway.AccessLogFormat.custom(ACCESS_LOG_FORMAT) } }
        : {}),
    });
    if (!props.accessLogGroup) {
      Validations.of(this.stage).acknowledge({
        id: 'AwsSolutions-APIG1',
        reason:
          'Access logging of a WebSocket stage needs API Gateway\'s account-level CloudWatch Logs role, which is shared by the whole account and region and so is not created by a construct; pass `accessLogGroup` once the account has it. Connections and pushes are logged by the two functions.',
      });
    }
    this.url = this.stage.url;
    this.callbackUrl = this.stage.callbackUrl;

    this.pushFunction = new ToolkitFunction(this, 'Push', {
      entry: 'functions/toolkit/live/pushHandler.ts',
      description: `Pushes read-model changes to the WebSocket clients of ${this.node.path}`,
      timeout: Duration.minutes(1),
      environment: {
        POWERTOOLS_SERVICE_NAME: 'live-updates',
        [LIVE_ENV.connectionsTable]: this.connectionsTable.tableName,
        [LIVE_ENV.callbackUrl]: this.callbackUrl,
        [LIVE_ENV.messageKind]: props.messageKind,
        [LIVE_ENV.deadLetterQueueUrl]: this.deadLetterQueue.queueUrl,
        [LIVE_ENV.maxConcurrency]: String(props.maxConcurrency ?? 20),
      },
    });
    grantConnectionsTable(this.pushFunction, this.connectionsTable, this.key, ['dynamodb:Scan', 'dynamodb:DeleteItem']);
    // PostToConnection, and DeleteConnection (to close a connection that keeps failing while the
    // others take the pushes), on this stage's connections only.
    for (const method of ['POST', 'DELETE'] as const) {
      const manageConnections = stack.formatArn({
        service: 'execute-api',
        resource: this.api.apiId,
        resourceName: `${stageName}/${method}/@connections/*`,
        arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      });
      iam.Grant.addToPrincipal({ grantee: this.pushFunction, actions: ['execute-api:ManageConnections'], resourceArns: [manageConnections] });
      Validations.of(this.pushFunction.role!).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${flattenCfnReference(stack.resolve(manageConnections))}]`,
        reason: `Connection ids are only known at run time: the wildcard is limited to ${method} (${method === 'POST' ? 'PostToConnection' : 'DeleteConnection'}) on the @connections of this API's one stage.`,
      });
    }

    this.eventSourceMapping = streamMapping(this, 'PushMapping', {
      fn: this.pushFunction,
      table: props.table,
      deadLetterQueue: this.deadLetterQueue,
      // A push channel shows what changes from now on; a client loads the current state itself.
      startingPosition: lambda.StartingPosition.LATEST,
      batchSize: props.batchSize ?? 100,
      retryAttempts: props.retryAttempts ?? 3,
      filters: [lambda.FilterCriteria.filter({ eventName: lambda.FilterRule.or('INSERT', 'MODIFY') })],
    });
  }
}

/** Exactly `actions` on the connections table, and on its key what reading and writing items needs. */
function grantConnectionsTable(grantee: iam.IGrantable, table: dynamodb.Table, key: kms.IKey, actions: string[]): void {
  iam.Grant.addToPrincipal({ grantee, actions, resourceArns: [table.tableArn] });
  key.grant(grantee, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey');
}

function validate(props: LiveUpdatesProps): void {
  const problems: string[] = [];
  if (!props.table.tableStreamArn) problems.push('`table` must have a stream with new images');
  if (!MessageKindSchema.safeParse(props.messageKind).success) problems.push('`messageKind` must look like `board.row`');
  if (props.stageName !== undefined && !/^[A-Za-z0-9_-]{1,128}$/.test(props.stageName)) problems.push('`stageName` may use letters, digits, `-` and `_` only');
  if (props.maxConcurrency !== undefined && (!Number.isInteger(props.maxConcurrency) || props.maxConcurrency < 1 || props.maxConcurrency > 200)) {
    problems.push('`maxConcurrency` must be a whole number from 1 to 200');
  }
  if (problems.length > 0) throw new Error(`LiveUpdates: ${problems.join('; ')}`);
}
