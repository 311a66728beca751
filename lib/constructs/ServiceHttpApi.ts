import { CfnOutput, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

export interface ServiceHttpApiProps {
  readonly description: string;
  /** Route key → the function serving it, e.g. `'POST /orders': orders.api`. */
  readonly routes: Readonly<Record<string, lambda.IFunction>>;
  /** Prefix of the stack outputs `<prefix>ApiId` and `<prefix>ApiUrl`. @default none */
  readonly outputPrefix?: string;
}

/**
 * A service's HTTP API (API Gateway HTTP API, Lambda proxy, payload v2): route keys to functions.
 * Access-logged, throttled, CORS open for GET/POST (so a page served from another origin may call
 * it). No authorizer: see the acknowledgement below.
 */
export class ServiceHttpApi extends Construct {
  public readonly api: apigwv2.HttpApi;

  constructor(scope: Construct, id: string, props: ServiceHttpApiProps) {
    super(scope, id);
    this.api = new apigwv2.HttpApi(this, 'Api', {
      description: props.description,
      corsPreflight: {
        allowOrigins: ['*'],
        allowMethods: [apigwv2.CorsHttpMethod.GET, apigwv2.CorsHttpMethod.POST],
        allowHeaders: ['content-type'],
        maxAge: Duration.hours(1),
      },
    });
    const integrations = new Map<lambda.IFunction, HttpLambdaIntegration>();
    for (const [routeKey, fn] of Object.entries(props.routes)) {
      const [method, path] = routeKey.split(' ') as [string, string];
      let integration = integrations.get(fn);
      if (!integration) {
        integration = new HttpLambdaIntegration(`${fn.node.id}Integration`, fn);
        integrations.set(fn, integration);
      }
      this.api.addRoutes({ path, methods: [method as apigwv2.HttpMethod], integration });
    }

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: logs.RetentionDays.ONE_MONTH });
    const stage = this.api.defaultStage!.node.defaultChild as apigwv2.CfnStage;
    stage.accessLogSettings = {
      destinationArn: accessLogs.logGroupArn,
      format: JSON.stringify({ requestId: '$context.requestId', route: '$context.routeKey', status: '$context.status', latencyMs: '$context.responseLatency', ip: '$context.identity.sourceIp' }),
    };
    stage.defaultRouteSettings = { throttlingBurstLimit: 100, throttlingRateLimit: 50 };
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason: 'The reference system’s APIs are open so that `npm start`, the tests and the board page can drive them without an identity provider; a production deployment adds an HttpJwtAuthorizer (e.g. Cognito) — staff and account routes first.',
    });
    const prefix = props.outputPrefix ?? '';
    new CfnOutput(Stack.of(this), `${prefix}ApiId`, { value: this.api.apiId });
    new CfnOutput(Stack.of(this), `${prefix}ApiUrl`, { value: this.api.apiEndpoint });
  }
}
