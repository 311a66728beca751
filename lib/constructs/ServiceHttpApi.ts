import { CfnOutput, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { isPublic, type AccessPolicy } from '../../functions/toolkit/http/access';

export interface ServiceHttpApiProps<A extends AccessPolicy> {
  readonly description: string;
  /**
   * Who may call each route: the service's access module, which its handlers check too (`httpApi`).
   * Every route not marked public gets `authorizer`; a public one gets none.
   */
  readonly access: A;
  /** Route key → the function serving it, e.g. `'POST /orders': orders.api`: exactly the routes of `access`. */
  readonly routes: { readonly [K in keyof A]: lambda.IFunction };
  /** Verifies callers' tokens (e.g. `UserDirectory.authorizer`). */
  readonly authorizer: apigwv2.IHttpRouteAuthorizer;
  /** Origins a browser page may call the API from (CORS), e.g. the board site. @default none: no CORS, same-origin and non-browser clients only */
  readonly allowOrigins?: readonly string[];
  /** Prefix of the stack outputs `<prefix>ApiId` and `<prefix>ApiUrl`. @default none */
  readonly outputPrefix?: string;
}

/**
 * A service's HTTP API (API Gateway HTTP API, Lambda proxy, payload v2): route keys to functions, each
 * with its access rule. The JWT authorizer is the API's default, so a route is open only if its rule
 * says public (and why). Access-logged, throttled; CORS only for the configured origins.
 */
export class ServiceHttpApi<A extends AccessPolicy> extends Construct {
  public readonly api: apigwv2.HttpApi;

  constructor(scope: Construct, id: string, props: ServiceHttpApiProps<A>) {
    super(scope, id);
    const unruled = Object.keys(props.routes).filter((routeKey) => props.access[routeKey] === undefined);
    if (unruled.length > 0) throw new Error(`ServiceHttpApi ${this.node.path}: routes without an access rule: ${unruled.join(', ')}`);
    const origins = props.allowOrigins ?? [];
    this.api = new apigwv2.HttpApi(this, 'Api', {
      description: props.description,
      defaultAuthorizer: props.authorizer,
      ...(origins.length > 0
        ? {
            corsPreflight: {
              allowOrigins: [...origins],
              allowMethods: [apigwv2.CorsHttpMethod.GET, apigwv2.CorsHttpMethod.POST],
              allowHeaders: ['content-type', 'authorization'],
              maxAge: Duration.hours(1),
            },
          }
        : {}),
    });
    const integrations = new Map<lambda.IFunction, HttpLambdaIntegration>();
    const publicRoutes: string[] = [];
    for (const [routeKey, fn] of Object.entries(props.routes) as [string, lambda.IFunction][]) {
      const [method, path] = routeKey.split(' ') as [string, string];
      let integration = integrations.get(fn);
      if (!integration) {
        integration = new HttpLambdaIntegration(`${fn.node.id}Integration`, fn);
        integrations.set(fn, integration);
      }
      const open = isPublic(props.access[routeKey]!);
      if (open) publicRoutes.push(routeKey);
      this.api.addRoutes({ path, methods: [method as apigwv2.HttpMethod], integration, ...(open ? { authorizer: new apigwv2.HttpNoneAuthorizer() } : {}) });
    }

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: logs.RetentionDays.ONE_MONTH });
    const stage = this.api.defaultStage!.node.defaultChild as apigwv2.CfnStage;
    stage.accessLogSettings = {
      destinationArn: accessLogs.logGroupArn,
      format: JSON.stringify({ requestId: '$context.requestId', route: '$context.routeKey', status: '$context.status', latencyMs: '$context.responseLatency', ip: '$context.identity.sourceIp' }),
    };
    stage.defaultRouteSettings = { throttlingBurstLimit: 100, throttlingRateLimit: 50 };
    if (publicRoutes.length > 0) {
      Validations.of(this.api).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason: `Only the routes marked public in the service's access rules have no authorizer (${publicRoutes.join(', ')}), each with its reason there and in the README; every other route has the JWT authorizer.`,
      });
    }
    const prefix = props.outputPrefix ?? '';
    new CfnOutput(Stack.of(this), `${prefix}ApiId`, { value: this.api.apiId });
    new CfnOutput(Stack.of(this), `${prefix}ApiUrl`, { value: this.api.apiEndpoint });
  }
}
