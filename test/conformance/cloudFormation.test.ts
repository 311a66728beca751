import { CloudFormationClient, CreateStackCommand, DeleteStackCommand, DescribeStacksCommand, DescribeStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { DescribeTimeToLiveCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, unique } from '../support/eventually';
import { knownGap } from '../support/knownGap';

// AWS behaviour relied on: CloudFormation applies the properties our constructs set — FIFO queues
// with their redrive policy, and a table's TTL specification.
describe('CloudFormation resource properties (conformance)', () => {
  const cfn = new CloudFormationClient({});
  const stackName = unique('conf-cfn');
  const queueName = `${unique('conf-cfn-q')}.fifo`;
  const resources = new Map<string, string>();

  beforeAll(async () => {
    const template = {
      Resources: {
        Dlq: { Type: 'AWS::SQS::Queue', Properties: { QueueName: `${queueName.replace('.fifo', '')}-dlq.fifo`, FifoQueue: true } },
        Queue: {
          Type: 'AWS::SQS::Queue',
          Properties: { QueueName: queueName, FifoQueue: true, RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['Dlq', 'Arn'] }, maxReceiveCount: 3 } },
        },
        Table: {
          Type: 'AWS::DynamoDB::Table',
          Properties: {
            BillingMode: 'PAY_PER_REQUEST',
            AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
            KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
            TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
          },
        },
      },
    };
    await cfn.send(new CreateStackCommand({ StackName: stackName, TemplateBody: JSON.stringify(template) }));
    await eventually(
      async () => (await cfn.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0]?.StackStatus,
      (status) => status === 'CREATE_COMPLETE' || /FAILED|ROLLBACK/.test(status ?? ''),
      { what: 'stack created', timeoutMs: 30_000 },
    );
    for (const r of (await cfn.send(new DescribeStackResourcesCommand({ StackName: stackName }))).StackResources ?? []) {
      resources.set(r.LogicalResourceId!, r.PhysicalResourceId!);
    }
  });
  afterAll(async () => {
    await cfn.send(new DeleteStackCommand({ StackName: stackName }));
  });

  it('creates a FIFO queue with its redrive policy', async () => {
    const sqs = new SQSClient({});
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queueName }));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['FifoQueue', 'RedrivePolicy'] }));
    expect(Attributes?.FifoQueue).toBe('true');
    expect(JSON.parse(Attributes?.RedrivePolicy ?? '{}')).toMatchObject({ maxReceiveCount: 3, deadLetterTargetArn: expect.stringMatching(/-dlq\.fifo$/) });
  });

  knownGap('applies a table TimeToLiveSpecification', 'localstack/fixups.ts re-applies TTL from the template after each local deploy', async () => {
    const ttl = await new DynamoDBClient({}).send(new DescribeTimeToLiveCommand({ TableName: resources.get('Table') }));
    expect(ttl.TimeToLiveDescription?.TimeToLiveStatus).toBe('ENABLED');
  });
});
