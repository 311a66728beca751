import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { PROBE_STAGES, type ProbeStage } from '../../../functions/coffee/probe/boardRow';
import { PROBE_ENV, PROBE_METRICS } from '../../../functions/coffee/probe/probeConfig';
import { ToolkitFunction } from '../../constructs/ToolkitFunction';
import { TransactionalOutbox } from '../../constructs/TransactionalOutbox';
import { BOARD_OPEN_INDEX } from '../../../functions/coffee/board/board';

/** The EventBridge `source` of `coffee.order.overdue`. */
export const PROBE_SOURCE = 'coffee.probe';

export interface BusinessProbeProps {
  /** The bus `coffee.order.overdue` is published to. */
  readonly bus: events.IEventBus;
  /** The order board's projection table; the probe may only Scan it. */
  readonly boardTable: dynamodb.ITable;
  /** An open order waiting longer than this since it was placed is overdue. Whole seconds. @default Duration.minutes(5) */
  readonly overdueAfter?: Duration;
  /** When the probe runs. @default every minute */
  readonly schedule?: events.Schedule;
  /** What the alarms do (e.g. an SNS topic action). @default none: the alarms are still created */
  readonly alarmActions?: cloudwatch.IAlarmAction[];
  /** Of the probe's outbox table and key. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

export interface BusinessProbeAlarms {
  /** At least one open order is overdue. */
  readonly overdueOrders: cloudwatch.Alarm;
  /** Per stage: an order has been in it longer than half the threshold, so the operator sees where orders are stuck. */
  readonly stageAge: Readonly<Record<ProbeStage, cloudwatch.Alarm>>;
  /** The probe itself fails: nobody would know that orders are late. */
  readonly probeFailing: cloudwatch.Alarm;
}

/**
 * The coffee shop's business probe, "every order is served within 5 minutes": a scheduled function
 * reads the order board, commits `coffee.order.overdue` once per late order through an outbox of its
 * own, and publishes metrics (`CoffeeShop` namespace) with alarms on them.
 */
export class BusinessProbe extends Construct {
  public readonly function: ToolkitFunction;
  public readonly outbox: TransactionalOutbox;
  public readonly rule: events.Rule;
  public readonly alarms: BusinessProbeAlarms;
  public readonly overdueAfter: Duration;

  constructor(scope: Construct, id: string, props: BusinessProbeProps) {
    super(scope, id);
    this.overdueAfter = props.overdueAfter ?? Duration.minutes(5);
    const overdueAfterSeconds = this.overdueAfter.toMilliseconds() / 1000;
    if (!Number.isInteger(overdueAfterSeconds) || overdueAfterSeconds < 1) throw new Error('BusinessProbe: `overdueAfter` must be whole seconds, at least 1');

    this.outbox = new TransactionalOutbox(this, 'Outbox', {
      source: PROBE_SOURCE,
      eventBus: props.bus,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      ...(props.alarmActions ? { alarmActions: props.alarmActions } : {}),
    });

    this.function = new ToolkitFunction(this, 'Function', {
      entry: 'functions/coffee/probe/probeHandler.ts',
      description: `Business probe: every order is served within ${overdueAfterSeconds} s`,
      timeout: Duration.seconds(50),
      environment: {
        POWERTOOLS_SERVICE_NAME: PROBE_METRICS.service,
        POWERTOOLS_METRICS_NAMESPACE: PROBE_METRICS.namespace,
        [PROBE_ENV.boardTableName]: props.boardTable.tableName,
        [PROBE_ENV.overdueAfterSeconds]: String(overdueAfterSeconds),
      },
    });
    this.outbox.grantCommit(this.function);
    // Read-only, and only the open-orders index: the board is another service's read model.
    iam.Grant.addToPrincipal({ grantee: this.function, actions: ['dynamodb:Query'], resourceArns: [`${props.boardTable.tableArn}/index/${BOARD_OPEN_INDEX}`] });
    props.boardTable.encryptionKey?.grant(this.function, 'kms:Decrypt');

    this.rule = new events.Rule(this, 'Schedule', {
      description: 'Runs the coffee shop business probe',
      schedule: props.schedule ?? events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(this.function, { event: events.RuleTargetInput.fromObject({ overdueAfterSeconds }), retryAttempts: 2 })],
    });

    const probeMetric = (metricName: string, dimensions: Record<string, string> = {}) =>
      new cloudwatch.Metric({
        namespace: PROBE_METRICS.namespace,
        metricName,
        dimensionsMap: { [PROBE_METRICS.serviceDimension]: PROBE_METRICS.service, ...dimensions },
        statistic: cloudwatch.Stats.MAXIMUM,
        period: Duration.minutes(1),
      });
    const alarm = (alarmId: string, description: string, alarmProps: Omit<cloudwatch.AlarmProps, 'alarmDescription' | 'treatMissingData' | 'evaluationPeriods'>) => {
      const created = new cloudwatch.Alarm(this, alarmId, {
        alarmDescription: description,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        ...alarmProps,
      });
      created.addAlarmAction(...(props.alarmActions ?? []));
      return created;
    };

    this.alarms = {
      overdueOrders: alarm('OverdueOrdersAlarm', `An order has waited more than ${overdueAfterSeconds} s to be served`, {
        metric: probeMetric(PROBE_METRICS.overdueOrders),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      }),
      stageAge: Object.fromEntries(
        PROBE_STAGES.map((stage) => [
          stage,
          alarm(`${stage[0]!.toUpperCase()}${stage.slice(1)}StageAgeAlarm`, `An order has been ${stage} for more than ${overdueAfterSeconds / 2} s`, {
            metric: probeMetric(PROBE_METRICS.stageAgeMax, { [PROBE_METRICS.stageDimension]: stage }),
            threshold: overdueAfterSeconds / 2,
            comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          }),
        ]),
      ) as Record<ProbeStage, cloudwatch.Alarm>,
      probeFailing: alarm('ProbeFailingAlarm', 'The business probe fails: late orders would go unnoticed', {
        metric: this.function.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      }),
    };
  }
}
