import { CloudFormationClient, CreateStackCommand, DeleteStackCommand, DescribeStackResourcesCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { afterAll, beforeAll, expect } from 'vitest';
import { eventually, unique } from './eventually';

/**
 * A small stack of a conformance test's own, created from a plain CloudFormation template before the
 * file's tests and deleted after them, so that what it probes cannot break the test app's deploy.
 * Returns logical id → physical id, filled once the stack is created.
 */
export function scratchStack(prefix: string, template: object): ReadonlyMap<string, string> {
  const cfn = new CloudFormationClient({});
  const stackName = unique(prefix);
  const resources = new Map<string, string>();
  beforeAll(async () => {
    await cfn.send(new CreateStackCommand({ StackName: stackName, TemplateBody: JSON.stringify(template), Capabilities: ['CAPABILITY_IAM'] }));
    const status = await eventually(
      async () => (await cfn.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0]?.StackStatus,
      (s) => s !== undefined && !s.endsWith('_IN_PROGRESS'),
      { what: `stack ${stackName} created`, timeoutMs: 60_000 },
    );
    expect(status).toBe('CREATE_COMPLETE');
    for (const r of (await cfn.send(new DescribeStackResourcesCommand({ StackName: stackName }))).StackResources ?? []) {
      resources.set(r.LogicalResourceId!, r.PhysicalResourceId!);
    }
  });
  afterAll(async () => {
    await cfn.send(new DeleteStackCommand({ StackName: stackName }));
  });
  return resources;
}
