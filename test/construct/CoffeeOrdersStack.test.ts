import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORDER_PLACED } from '../../functions/coffee/orders/placeOrder';
import { RELAY_ENV } from '../../functions/toolkit/relay/relayConfig';
import { CoffeeOrdersStack } from '../../lib/stacks/CoffeeOrdersStack';
import { expectTlsOnlyPolicy } from './support/expectTlsOnlyPolicy';
import { wildcardAllows } from './support/iamPermissions';
import { projectApp } from './support/projectApp';
import { renderIntrinsic } from './support/renderIntrinsic';

interface ResourceJson {
  readonly Type: string;
  readonly Properties: Record<string, any>;
}

/** The logical id an `Fn::GetAtt` refers to. */
function getAttTarget(value: unknown): string {
  const getAtt = (value as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt'];
  if (!getAtt) throw new Error(`not an Fn::GetAtt: ${JSON.stringify(value)}`);
  return getAtt[0];
}

describe('CoffeeOrdersStack', () => {
  let template: Template;
  let resources: Record<string, ResourceJson>;
  let orderedQueueId: string;
  let fanoutQueueId: string;

  const idsOfType = (type: string): string[] => Object.keys(resources).filter((id) => resources[id]!.Type === type);
  const propertiesOf = (id: string): Record<string, any> => resources[id]!.Properties;

  // The handlers are bundled for real (local esbuild): a handler that no longer bundles fails here.
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffee-orders-'));
  afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

  beforeAll(() => {
    template = Template.fromStack(new CoffeeOrdersStack(projectApp({ outdir }), 'CoffeeOrders'));
    resources = template.toJSON().Resources;

    // Found by their wiring: the ordered queue is the one the relay sends to; the fan-out queue
    // the one the bus rule targets.
    const relayIds = idsOfType('AWS::Lambda::Function').filter((id) => propertiesOf(id).Environment?.Variables?.[RELAY_ENV.orderedQueueUrls]);
    expect(relayIds).toHaveLength(1);
    const orderedQueueUrls: string[] = JSON.parse(renderIntrinsic(propertiesOf(relayIds[0]!).Environment.Variables[RELAY_ENV.orderedQueueUrls]));
    expect(orderedQueueUrls).toHaveLength(1);
    orderedQueueId = /^\{\{Ref:(.+)\}\}$/.exec(orderedQueueUrls[0]!)![1]!;

    const ruleIds = idsOfType('AWS::Events::Rule');
    expect(ruleIds).toHaveLength(1);
    fanoutQueueId = getAttTarget(propertiesOf(ruleIds[0]!).Targets[0].Arn);
  });

  it('has an ordered subscriber queue that is FIFO, with a FIFO dead-letter queue as a backstop after 5 attempts + 2', () => {
    const orderedQueue = propertiesOf(orderedQueueId);
    expect(resources[orderedQueueId]!.Type).toBe('AWS::SQS::Queue');
    expect(orderedQueue).toMatchObject({
      FifoQueue: true,
      QueueName: expect.stringMatching(/\.fifo$/),
      RedrivePolicy: { maxReceiveCount: 7 },
    });

    const deadLetterQueueId = getAttTarget(orderedQueue.RedrivePolicy.deadLetterTargetArn);
    expect(resources[deadLetterQueueId]!.Type).toBe('AWS::SQS::Queue');
    expect(propertiesOf(deadLetterQueueId)).toMatchObject({ FifoQueue: true, QueueName: expect.stringMatching(/\.fifo$/) });
  });

  it('has a fan-out queue with a dead-letter queue', () => {
    const fanoutQueue = propertiesOf(fanoutQueueId);
    expect(resources[fanoutQueueId]!.Type).toBe('AWS::SQS::Queue');
    expect(fanoutQueue).toMatchObject({ RedrivePolicy: { maxReceiveCount: expect.any(Number) } });
    expect(resources[getAttTarget(fanoutQueue.RedrivePolicy.deadLetterTargetArn)]!.Type).toBe('AWS::SQS::Queue');
  });

  it('routes coffee.order.placed of coffee.orders from the outbox bus to the fan-out queue, with retries and a dead-letter queue', () => {
    const [busId] = idsOfType('AWS::Events::EventBus');
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: busId },
      EventPattern: { source: ['coffee.orders'], 'detail-type': [ORDER_PLACED] },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [fanoutQueueId, 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: Match.anyValue(), MaximumEventAgeInSeconds: Match.anyValue() },
        }),
      ],
    });
    const [rule] = idsOfType('AWS::Events::Rule').map(propertiesOf);
    expect(resources[getAttTarget(rule!.Targets[0].DeadLetterConfig.Arn)]!.Type).toBe('AWS::SQS::Queue');
  });

  it('reports batch item failures from both recorder mappings', () => {
    for (const queueId of [orderedQueueId, fanoutQueueId]) {
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
    }
  });

  it('runs every Lambda function on nodejs22.x', () => {
    const functionIds = idsOfType('AWS::Lambda::Function');

    expect(functionIds.length).toBeGreaterThan(0);
    expect(functionIds.filter((id) => propertiesOf(id).Runtime !== 'nodejs22.x')).toEqual([]);
  });

  it('encrypts every SQS queue with a KMS key of the stack and accepts TLS only', () => {
    const queueIds = idsOfType('AWS::SQS::Queue');
    const keyIds = idsOfType('AWS::KMS::Key');

    expect(queueIds.length).toBeGreaterThan(0);
    for (const queueId of queueIds) {
      expect(keyIds, `KmsMasterKeyId of ${queueId}`).toContain(getAttTarget(propertiesOf(queueId).KmsMasterKeyId));
      expectTlsOnlyPolicy(template, queueId);
    }
  });

  it('attaches no AWS managed policy to any function role', () => {
    const roleIds = idsOfType('AWS::Lambda::Function').map((id) => getAttTarget(propertiesOf(id).Role));

    for (const roleId of roleIds) expect(resources[roleId]!.Type).toBe('AWS::IAM::Role');
    const managed = roleIds.flatMap((roleId) =>
      ((propertiesOf(roleId).ManagedPolicyArns ?? []) as unknown[]).map(renderIntrinsic).filter((arn) => arn.includes(':iam::aws:policy/')),
    );
    expect(managed).toEqual([]);
  });

  it('allows no action `*` or `service:*` anywhere', () => {
    expect(wildcardAllows(template)).toEqual([]);
  });
});
