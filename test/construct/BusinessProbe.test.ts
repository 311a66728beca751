import { Duration, RemovalPolicy, Stack, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROBE_ENV } from '../../functions/coffee/probe/probeConfig';
import { OUTBOX_ENV } from '../../functions/toolkit/outbox/outboxConfig';
import { BusinessProbe, type BusinessProbeProps } from '../../lib/stacks/coffee/BusinessProbe';
import { allow, permissionSet, permissionsOf, wildcardAllows } from './support/iamPermissions';
import { itPassesNagChecks } from './support/nagReport';
import { projectApp, SKIP_BUNDLING } from './support/projectApp';
import { BOARD_OPEN_INDEX } from '../../functions/coffee/board/board';

const ON_CALL = 'arn:aws:sns:us-east-1:111111111111:on-call';
const onCall: cloudwatch.IAlarmAction = { bind: () => ({ alarmActionArn: ON_CALL }) };

function newStack(): Stack {
  return new Stack(projectApp({ context: SKIP_BUNDLING }), 'Test');
}

/** The board's projection table, as the board service would create it (its own key unless `encryption` says otherwise). */
function boardTable(stack: Stack, props: Partial<dynamodb.TableProps> = {}): dynamodb.Table {
  return new dynamodb.Table(stack, 'Board', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
    encryptionKey: new kms.Key(stack, 'BoardKey', { enableKeyRotation: true }),
    ...props,
  });
}

function newProbe(stack: Stack, props: Partial<BusinessProbeProps> = {}): BusinessProbe {
  const bus = new events.EventBus(stack, 'Coffee', { eventBusName: 'coffee' });
  return new BusinessProbe(stack, 'Probe', { bus, boardTable: props.boardTable ?? boardTable(stack), removalPolicy: RemovalPolicy.DESTROY, ...props });
}

function propertiesOf(template: Template, stack: Stack, construct: IConstruct): Record<string, any> {
  const resource = template.toJSON().Resources[stack.getLogicalId(construct.node.defaultChild as CfnElement)];
  if (!resource) throw new Error(`${construct.node.path} is not in the template`);
  return resource.Properties ?? {};
}

describe('BusinessProbe with its defaults', () => {
  let stack: Stack;
  let board: dynamodb.Table;
  let probe: BusinessProbe;
  let template: Template;

  beforeAll(() => {
    // arrange
    stack = newStack();
    board = boardTable(stack);
    // act
    probe = newProbe(stack, { boardTable: board, alarmActions: [onCall] });
    template = Template.fromStack(stack);
  }, 60_000); // synthesis is slow on a busy machine

  it('runs the probe every minute with the 5-minute threshold as its input', () => {
    const rule = propertiesOf(template, stack, probe.rule);

    expect(rule.ScheduleExpression).toBe('rate(1 minute)');
    expect(rule.EventBusName).toBeUndefined(); // schedules run on the default bus
    expect(rule.Targets).toHaveLength(1);
    expect(rule.Targets[0].Arn).toEqual(stack.resolve(probe.function.functionArn));
    expect(JSON.parse(rule.Targets[0].Input)).toEqual({ overdueAfterSeconds: 300 });
  });

  it('gives the function the board table, the default threshold and its outbox', () => {
    expect(propertiesOf(template, stack, probe.function).Environment.Variables).toMatchObject({
      POWERTOOLS_SERVICE_NAME: 'coffee-probe',
      POWERTOOLS_METRICS_NAMESPACE: 'CoffeeShop',
      [PROBE_ENV.boardTableName]: stack.resolve(board.tableName),
      [PROBE_ENV.overdueAfterSeconds]: '300',
      [OUTBOX_ENV.tableName]: stack.resolve(probe.outbox.table.tableName),
      [OUTBOX_ENV.source]: 'coffee.probe',
    });
  });

  it('publishes through an outbox of its own, sourced coffee.probe, to the given bus', () => {
    expect(probe.outbox.source).toBe('coffee.probe');
    expect(propertiesOf(template, stack, probe.outbox.relayFunction).Environment.Variables).toMatchObject({
      RELAY_EVENT_BUS_NAME: stack.resolve(probe.outbox.bus.eventBusName),
    });
    template.resourceCountIs('AWS::Events::EventBus', 1);
  });

  it('lets the function Query the board’s open-orders index and nothing else on it (no Scan), decrypt with the board key, and commit to its outbox', () => {
    const outboxKey = stack.resolve(probe.outbox.key.keyArn);

    expect(permissionsOf(template, stack, probe.function.role)).toEqual(
      permissionSet(
        allow(['logs:CreateLogStream', 'logs:PutLogEvents'], stack.resolve(probe.function.logGroup.logGroupArn)),
        allow(['dynamodb:Query'], stack.resolve(`${board.tableArn}/index/${BOARD_OPEN_INDEX}`)),
        allow(['kms:Decrypt'], stack.resolve(board.encryptionKey!.keyArn)),
        allow(['dynamodb:PutItem'], stack.resolve(probe.outbox.table.tableArn)),
        allow(['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'], outboxKey),
      ),
    );
  });

  it('allows no action `*` or `service:*` anywhere', () => {
    expect(wildcardAllows(template)).toEqual([]);
  });

  it('alarms as soon as one order is overdue, on the probe’s OverdueOrders metric', () => {
    expect(propertiesOf(template, stack, probe.alarms.overdueOrders)).toMatchObject({
      Namespace: 'CoffeeShop',
      MetricName: 'OverdueOrders',
      Dimensions: [{ Name: 'service', Value: 'coffee-probe' }],
      Statistic: 'Maximum',
      Period: 60,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: [ON_CALL],
    });
  });

  it.each(['queued', 'brewing', 'ready'] as const)('alarms when an order has been %s for more than half the threshold', (stage) => {
    expect(propertiesOf(template, stack, probe.alarms.stageAge[stage])).toMatchObject({
      Namespace: 'CoffeeShop',
      MetricName: 'StageAgeMax',
      Dimensions: [
        { Name: 'Stage', Value: stage },
        { Name: 'service', Value: 'coffee-probe' },
      ],
      Statistic: 'Maximum',
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 150,
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: [ON_CALL],
    });
  });

  it('alarms when the probe itself fails', () => {
    expect(propertiesOf(template, stack, probe.alarms.probeFailing)).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: stack.resolve(probe.function.functionName) }],
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
    });
  });
});

describe('BusinessProbe configured', () => {
  it('takes the threshold and the schedule it is given, and sets the stage alarms at half the threshold', () => {
    // arrange
    const stack = newStack();

    // act
    const probe = newProbe(stack, { overdueAfter: Duration.minutes(3), schedule: events.Schedule.rate(Duration.minutes(2)) });
    const template = Template.fromStack(stack);

    // assert
    const rule = propertiesOf(template, stack, probe.rule);
    expect(rule.ScheduleExpression).toBe('rate(2 minutes)');
    expect(JSON.parse(rule.Targets[0].Input)).toEqual({ overdueAfterSeconds: 180 });
    expect(propertiesOf(template, stack, probe.function).Environment.Variables[PROBE_ENV.overdueAfterSeconds]).toBe('180');
    expect(propertiesOf(template, stack, probe.alarms.stageAge.brewing).Threshold).toBe(90);
  });

  it('grants no KMS on a board table encrypted with an AWS-owned key', () => {
    // arrange
    const stack = newStack();
    const board = boardTable(stack, { encryption: dynamodb.TableEncryption.AWS_MANAGED, encryptionKey: undefined });

    // act
    const probe = newProbe(stack, { boardTable: board });
    const template = Template.fromStack(stack);

    // assert
    const boardPermissions = permissionsOf(template, stack, probe.function.role).filter((p) => p.action.startsWith('dynamodb:') && p.action !== 'dynamodb:PutItem');
    expect(boardPermissions).toEqual(allow(['dynamodb:Query'], stack.resolve(`${board.tableArn}/index/${BOARD_OPEN_INDEX}`)));
    const kmsResources = permissionsOf(template, stack, probe.function.role).filter((p) => p.action.startsWith('kms:')).map((p) => p.resource);
    expect(new Set(kmsResources.map((r) => JSON.stringify(r)))).toEqual(new Set([JSON.stringify(stack.resolve(probe.outbox.key.keyArn))]));
  });

  it('refuses a threshold that is not whole seconds', () => {
    const stack = newStack();

    expect(() => newProbe(stack, { overdueAfter: Duration.millis(1500) })).toThrow(/`overdueAfter` must be whole seconds/);
  });
});

describe('cdk-nag AwsSolutions checks on a stack with a business probe', () => {
  itPassesNagChecks((app) => {
    const stack = new Stack(app, 'Probe');
    newProbe(stack, { alarmActions: [onCall] });
  });
});
