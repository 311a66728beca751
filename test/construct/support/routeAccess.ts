import type { Template } from 'aws-cdk-lib/assertions';
import { isPublic, type AccessPolicy } from '../../../functions/toolkit/http/access';

interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

/**
 * What a template does not protect as the service's access rules say: a route with no rule, a rule with
 * no route, a non-public route without the JWT authorizer (of the stack's user pool, for its client),
 * or a public route with one. Empty when every route is as its rule says.
 */
export function routesNotAsRuled(template: Template, access: AccessPolicy): string[] {
  const resources = template.toJSON().Resources as Record<string, CfnResource>;
  const ofType = (type: string) => Object.entries(resources).filter(([, resource]) => resource.Type === type);
  const ref = (value: unknown) => (value as { Ref?: string } | undefined)?.Ref;
  const problems: string[] = [];

  const httpApis = ofType('AWS::ApiGatewayV2::Api').filter(([, api]) => api.Properties?.ProtocolType === 'HTTP');
  if (httpApis.length !== 1) return [`expected one HTTP API, found ${httpApis.length}`];
  const [apiId] = httpApis[0]!;
  const authorizers = new Map(ofType('AWS::ApiGatewayV2::Authorizer').filter(([, a]) => ref(a.Properties?.ApiId) === apiId));
  const pools = ofType('AWS::Cognito::UserPool').map(([id]) => id);
  const clients = ofType('AWS::Cognito::UserPoolClient').map(([id]) => id);

  const routes = ofType('AWS::ApiGatewayV2::Route').filter(([, route]) => ref(route.Properties?.ApiId) === apiId);
  for (const [, route] of routes) {
    const key = String(route.Properties?.RouteKey);
    const rule = access[key];
    const type = route.Properties?.AuthorizationType ?? 'NONE';
    if (!rule) {
      problems.push(`${key}: deployed without an access rule`);
      continue;
    }
    if (isPublic(rule)) {
      if (type !== 'NONE') problems.push(`${key}: public by its rule, but authorized (${String(type)})`);
      continue;
    }
    const authorizer = authorizers.get(ref(route.Properties?.AuthorizerId) ?? '');
    if (type !== 'JWT' || !authorizer) {
      problems.push(`${key}: for ${rule.roles.join(', ')}, but has no JWT authorizer (${String(type)})`);
      continue;
    }
    const jwt = authorizer.Properties?.JwtConfiguration as { Audience?: unknown[]; Issuer?: unknown } | undefined;
    const audience = (jwt?.Audience ?? []).map(ref);
    const issuer = JSON.stringify(jwt?.Issuer ?? '');
    if (audience.length !== 1 || !clients.includes(audience[0] ?? '')) problems.push(`${key}: its authorizer accepts tokens of ${JSON.stringify(jwt?.Audience)}, not only the stack's user pool client`);
    if (!pools.some((pool) => issuer.includes(pool)) || !issuer.includes('cognito-idp.')) problems.push(`${key}: its authorizer trusts the issuer ${issuer}, not the stack's user pool`);
    if (JSON.stringify(authorizer.Properties?.IdentitySource) !== JSON.stringify(['$request.header.Authorization'])) problems.push(`${key}: the token is not read from the Authorization header`);
  }
  const deployed = new Set(routes.map(([, route]) => String(route.Properties?.RouteKey)));
  for (const key of Object.keys(access)) if (!deployed.has(key)) problems.push(`${key}: has a rule but is not deployed`);
  return problems;
}
