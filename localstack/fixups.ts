/**
 * Post-deploy fixups for the local cloud only: properties the emulator's CloudFormation accepts but
 * does not apply, re-applied from the synthesized template through the service APIs, and AWS API
 * addresses in function environments rewritten to the emulator's. Idempotent, and refuses to run
 * against anything but a loopback endpoint. Each gap is pinned by a known-gap conformance test
 * (test/conformance/cloudFormation.test.ts, test/conformance/apiGateway.test.ts) and listed in
 * localstack/README.md.
 */
import { CloudFormationClient, DescribeStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { DescribeTimeToLiveCommand, DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { GetFunctionConfigurationCommand, LambdaClient, UpdateFunctionConfigurationCommand, waitUntilFunctionUpdatedV2 } from '@aws-sdk/client-lambda';
import { ApiGatewayV2Client, GetApiCommand, UpdateApiCommand, type Cors } from '@aws-sdk/client-apigatewayv2';
import { readFileSync } from 'node:fs';
import { endpointUrl } from './cloud';
import { toLocalApiUrl } from './endpoints';

interface TemplateResource {
  Type: string;
  Properties?: {
    TimeToLiveSpecification?: { AttributeName?: string; Enabled?: boolean };
    CorsConfiguration?: Record<string, unknown>;
  };
}

export async function reapplyDroppedProperties(stackName: string, templateFile: string): Promise<string[]> {
  const host = new URL(endpointUrl()).hostname;
  if (!/^(127\.\d+\.\d+\.\d+|localhost)$/.test(host)) throw new Error('fixups run against the local cloud only');
  const template = JSON.parse(readFileSync(templateFile, 'utf8')) as { Resources: Record<string, TemplateResource> };
  const cfn = new CloudFormationClient({});
  const ddb = new DynamoDBClient({});
  const physical = new Map(
    ((await cfn.send(new DescribeStackResourcesCommand({ StackName: stackName }))).StackResources ?? []).map((r) => [r.LogicalResourceId, r.PhysicalResourceId]),
  );
  const applied: string[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const ttl = resource.Properties?.TimeToLiveSpecification;
    const tableName = physical.get(logicalId);
    if (resource.Type !== 'AWS::DynamoDB::Table' || !ttl?.Enabled || !ttl.AttributeName || !tableName) continue;
    const current = await ddb.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    const status = current.TimeToLiveDescription?.TimeToLiveStatus;
    if (status === 'ENABLED' || status === 'ENABLING') continue;
    await ddb.send(new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: true } }));
    applied.push(`re-applied TTL on ${tableName}.${ttl.AttributeName} (dropped by the emulator's CloudFormation)`);
  }
  applied.push(...(await reapplyHttpApiCors(template.Resources, physical)));
  applied.push(...(await rewriteApiUrlsInFunctions(template.Resources, physical)));
  return applied;
}

/**
 * MiniStack's CloudFormation stores an `AWS::ApiGatewayV2::Api` `CorsConfiguration` with the
 * template's keys (`AllowOrigins`, …) while its data plane reads the API's keys (`allowOrigins`, …):
 * every preflight is refused (403 "CORS origin denied") and no response carries
 * Access-Control-Allow-Origin, so a browser on another origin cannot call the API. Re-applied here
 * through UpdateApi (which stores it as the data plane expects) when the API does not report it.
 */
async function reapplyHttpApiCors(resources: Record<string, TemplateResource>, physical: Map<string | undefined, string | undefined>): Promise<string[]> {
  const applied: string[] = [];
  const apiGateway = new ApiGatewayV2Client({});
  for (const [logicalId, resource] of Object.entries(resources)) {
    const cors = resource.Properties?.CorsConfiguration;
    const apiId = physical.get(logicalId);
    if (resource.Type !== 'AWS::ApiGatewayV2::Api' || !cors || !apiId) continue;
    const wanted = cors as Cors;
    const api = await apiGateway.send(new GetApiCommand({ ApiId: apiId }));
    if (JSON.stringify(api.CorsConfiguration ?? {}) === JSON.stringify(wanted)) continue;
    await apiGateway.send(new UpdateApiCommand({ ApiId: apiId, CorsConfiguration: wanted }));
    applied.push(`re-applied the CORS configuration of HTTP API ${apiId} (dropped by the emulator's CloudFormation)`);
  }
  return applied;
}

/**
 * A function that talks to an API Gateway API gets the API's AWS address in its environment, e.g.
 * `WebSocketStage.callbackUrl` (`https://<id>.execute-api.<region>.amazonaws.com/<stage>`) as the
 * `endpoint` of its `ApiGatewayManagementApiClient` for PostToConnection. That host does not resolve
 * locally (and must never be sent to the real AWS from here): the emulator serves the API, and its
 * `@connections` management API, path-style on its own endpoint
 * (`http://127.0.0.1:4566/_aws/execute-api/<id>/<stage>`; the SDK appends `/@connections/<connectionId>`
 * to that base path). So every such value in a deployed function's environment is rewritten to that
 * form. Values that are not an AWS API address are left alone; a rewritten value no longer matches, so
 * a second run changes nothing; a redeploy that changes the environment brings the AWS value back,
 * and the fixup runs again after it.
 */
async function rewriteApiUrlsInFunctions(resources: Record<string, TemplateResource>, physical: Map<string | undefined, string | undefined>): Promise<string[]> {
  const lambda = new LambdaClient({});
  const applied: string[] = [];
  for (const [logicalId, resource] of Object.entries(resources)) {
    const functionName = physical.get(logicalId);
    if (resource.Type !== 'AWS::Lambda::Function' || !functionName) continue;
    const variables = (await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName }))).Environment?.Variables ?? {};
    const rewritten = Object.entries(variables).flatMap(([name, value]) => {
      const local = toLocalApiUrl(value);
      return local === undefined || local === value ? [] : [[name, local] as const];
    });
    if (rewritten.length === 0) continue;
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: functionName, Environment: { Variables: { ...variables, ...Object.fromEntries(rewritten) } } }));
    await waitUntilFunctionUpdatedV2({ client: lambda, maxWaitTime: 60 }, { FunctionName: functionName });
    applied.push(...rewritten.map(([name]) => `pointed ${functionName} ${name} at the local API address`));
  }
  return applied;
}
