import { CfnOutput, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

export interface CoffeeApiProps {
  /** Route key → the function serving it, e.g. `'POST /orders': orders.api`. */
  readonly routes: Readonly<Record<string, lambda.IFunction>>;
}

/**
 * The coffee shop's HTTP API (API Gateway HTTP API, Lambda proxy, payload v2): commands of each
 * service and the board's queries, one function per service. Access-logged; CORS open so the live
 * board page may be served from another origin.
 */
export class CoffeeApi extends Construct {
  public readonly api: apigwv2.HttpApi;

  constructor(scope: Construct, id: string, props: CoffeeApiProps) {
    super(scope, id);
    this.api = new apigwv2.HttpApi(this, 'Api', {
      description: 'Coffee shop: orders, barista, counter, board queries',
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
      reason: 'The reference system’s API is open so that `npm start`, the tests and the board page can drive it without an identity provider; a production deployment adds an HttpJwtAuthorizer (e.g. Cognito) — the barista and counter routes first.',
    });
    new CfnOutput(Stack.of(this), 'ApiId', { value: this.api.apiId });
    new CfnOutput(Stack.of(this), 'ApiUrl', { value: this.api.apiEndpoint });
  }
}
