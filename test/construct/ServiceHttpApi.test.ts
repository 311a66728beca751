import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { HttpUserPoolAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import type { AccessPolicy } from '../../functions/toolkit/http/access';
import { ServiceHttpApi } from '../../lib/constructs/ServiceHttpApi';
import { captureError } from './support/captureError';
import { routesNotAsRuled } from './support/routeAccess';

const ACCESS = {
  'POST /things': { roles: ['maker'] },
  'GET /things/{id}': { roles: ['maker', 'reader'], rule: 'only their own' },
  'GET /status': { public: 'says only that the service is up' },
} as const satisfies AccessPolicy;

function apiStack(options: { allowOrigins?: string[]; access?: AccessPolicy } = {}) {
  const stack = new Stack(new App(), 'Api');
  const fn = new lambda.Function(stack, 'Handler', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => ({})') });
  const pool = new cognito.UserPool(stack, 'Pool');
  const client = pool.addClient('Client');
  const access = (options.access ?? ACCESS) as typeof ACCESS;
  new ServiceHttpApi(stack, 'Http', {
    description: 'test',
    access,
    authorizer: new HttpUserPoolAuthorizer('Authorizer', pool, { userPoolClients: [client] }),
    routes: { 'POST /things': fn, 'GET /things/{id}': fn, 'GET /status': fn },
    ...(options.allowOrigins ? { allowOrigins: options.allowOrigins } : {}),
  });
  return Template.fromStack(stack);
}

describe('ServiceHttpApi', () => {
  it('puts the JWT authorizer on every route but those its access rules make public', () => {
    const template = apiStack();
    expect(routesNotAsRuled(template, ACCESS)).toEqual([]);
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'GET /status', AuthorizationType: 'NONE' });
    template.resourcePropertiesCountIs('AWS::ApiGatewayV2::Route', { AuthorizationType: 'JWT' }, 2);
  });

  it('refuses to deploy a route that has no access rule', () => {
    const error = captureError(() => apiStack({ access: { 'POST /things': { roles: ['maker'] } } }));
    expect(error.message).toMatch(/routes without an access rule: GET \/things\/\{id\}, GET \/status/);
  });

  it('finds a route left open that its rule says is not public (the check the stack tests rely on)', () => {
    const template = apiStack({ access: { ...ACCESS, 'POST /things': { public: 'oops' } } });
    expect(routesNotAsRuled(template, ACCESS)).toEqual(['POST /things: for maker, but has no JWT authorizer (NONE)']);
  });

  it('answers CORS only for the configured origins, with the Authorization header allowed; none when none are configured', () => {
    apiStack().hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP', CorsConfiguration: Match.absent() });
    apiStack({ allowOrigins: ['https://board.example'] }).hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: { AllowOrigins: ['https://board.example'], AllowMethods: ['GET', 'POST'], AllowHeaders: ['content-type', 'authorization'] },
    });
  });
});
