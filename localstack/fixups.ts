/**
 * Post-deploy fixups for the local cloud only: properties the emulator's CloudFormation accepts but
 * does not apply, re-applied from the synthesized template through the service APIs. Idempotent,
 * and refuses to run against anything but a loopback endpoint. Each gap is pinned by a known-gap
 * conformance test (test/conformance/cloudformation.test.ts) and listed in localstack/README.md.
 */
import { CloudFormationClient, DescribeStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { DescribeTimeToLiveCommand, DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { readFileSync } from 'node:fs';
import { endpointUrl } from './cloud';

interface TemplateResource {
  Type: string;
  Properties?: { TimeToLiveSpecification?: { AttributeName?: string; Enabled?: boolean } };
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
    applied.push(`TTL on ${tableName}.${ttl.AttributeName}`);
  }
  return applied;
}
