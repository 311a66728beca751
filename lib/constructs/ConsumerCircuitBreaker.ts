import { ArnFormat, Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CIRCUIT_BOUNDS, CIRCUIT_CLOSER_ENV, CIRCUIT_DEFAULTS, CIRCUIT_ENV } from '../../functions/toolkit/consumer/circuitBreakerConfig';
import { ToolkitFunction } from './ToolkitFunction';

/** A consumer's circuit breakers (`circuit(name)` in its handler): when they open, and for how long. */
export interface CircuitBreakerOptions {
  /** Failures of calls through one circuit, within `window`, that open it; 1 to 1000. @default 5 */
  readonly failureThreshold?: number;
  /** The sliding window in which failures are counted, 1 second to 1 day. @default Duration.minutes(1) */
  readonly window?: Duration;
  /**
   * How long an open circuit keeps the consumer stopped before it is half-opened and probed, 1 second
   * to 12 hours. The closer runs every minute, so a shorter cool-down ends at the next run.
   * @default Duration.minutes(1)
   */
  readonly coolDown?: Duration;
}

export interface ConsumerCircuitBreakerProps extends CircuitBreakerOptions {
  /** The consumer: it stops itself when a circuit opens. */
  readonly consumerFunction: lambda.Function;
  /** The queue its mapping reads. */
  readonly queue: sqs.IQueue;
  /** Its idempotency table, which keeps the circuits' state. */
  readonly table: dynamodb.ITable;
  /** The table's key. */
  readonly key: kms.IKey;
}

const CLOSER_SCHEDULE = Duration.minutes(1);

/**
 * The circuit breakers of one consumer, as `EventConsumer` wires them with `circuitBreaker`: the
 * thresholds in the consumer's environment; its permission to disable its own event-source mapping;
 * and a closer, run every minute by a schedule, that half-opens circuits whose cool-down is over and
 * re-enables the mapping.
 */
export class ConsumerCircuitBreaker extends Construct {
  /** Half-opens cooled-down circuits and resumes the consumer; may also be invoked directly. */
  public readonly closerFunction: ToolkitFunction;
  /** Runs the closer every minute. */
  public readonly closerSchedule: events.Rule;
  /** The consumer's permission to find and switch its own mapping (a policy of its own, see below). */
  public readonly consumerPolicy: iam.Policy;

  constructor(scope: Construct, id: string, props: ConsumerCircuitBreakerProps) {
    super(scope, id);
    const problems = circuitBreakerProblems(props);
    if (problems.length > 0) throw new Error(`ConsumerCircuitBreaker: ${problems.join('; ')}`);
    const consumer = props.consumerFunction;

    consumer.addEnvironment(CIRCUIT_ENV.queueArn, props.queue.queueArn);
    consumer.addEnvironment(CIRCUIT_ENV.failureThreshold, String(props.failureThreshold ?? CIRCUIT_DEFAULTS.failureThreshold));
    consumer.addEnvironment(CIRCUIT_ENV.windowSeconds, String(props.window?.toSeconds() ?? CIRCUIT_DEFAULTS.windowSeconds));
    consumer.addEnvironment(CIRCUIT_ENV.coolDownSeconds, String(props.coolDown?.toSeconds() ?? CIRCUIT_DEFAULTS.coolDownSeconds));

    // A policy of its own rather than the role's default policy: the function depends on that one,
    // which therefore cannot name the function's ARN (a dependency cycle).
    this.consumerPolicy = new iam.Policy(this, 'ConsumerPolicy', { roles: [consumer.role!], statements: mappingSwitchStatements(this, consumer) });
    acknowledgeMappingSwitch(this.consumerPolicy);

    this.closerFunction = new ToolkitFunction(this, 'CloserFunction', {
      entry: 'functions/toolkit/consumer/circuitCloserHandler.ts',
      description: `Circuit closer of ${scope.node.path}: half-opens cooled-down circuits and resumes the consumer`,
      timeout: Duration.seconds(30),
      environment: {
        POWERTOOLS_SERVICE_NAME: `${scope.node.id}-circuit-closer`,
        [CIRCUIT_CLOSER_ENV.tableName]: props.table.tableName,
        [CIRCUIT_CLOSER_ENV.queueArn]: props.queue.queueArn,
        [CIRCUIT_CLOSER_ENV.consumerFunctionName]: consumer.functionName,
      },
    });
    for (const statement of mappingSwitchStatements(this, consumer)) this.closerFunction.addToRolePolicy(statement);
    iam.Grant.addToPrincipal({ grantee: this.closerFunction, actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], resourceArns: [props.table.tableArn] });
    // What the consumer holds on the same key for the same table.
    props.key.grant(this.closerFunction, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey');
    acknowledgeMappingSwitch(this.closerFunction.role!);

    this.closerSchedule = new events.Rule(this, 'CloserSchedule', {
      description: `Runs the circuit closer of ${scope.node.path}`,
      schedule: events.Schedule.rate(CLOSER_SCHEDULE),
      // A missed run is made up by the next one a minute later.
      targets: [new targets.LambdaFunction(this.closerFunction, { retryAttempts: 0 })],
    });
  }
}

/**
 * Find the consumer's mapping, and disable or enable it. `ListEventSourceMappings` has no
 * resource-level permissions; `UpdateEventSourceMapping` is limited to the mappings of this function
 * by the `lambda:FunctionArn` condition key (the mapping's UUID is not known at deploy time).
 */
function mappingSwitchStatements(scope: Construct, consumer: lambda.IFunction): iam.PolicyStatement[] {
  const anyMapping = Stack.of(scope).formatArn({ service: 'lambda', resource: 'event-source-mapping', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  return [
    new iam.PolicyStatement({ actions: ['lambda:ListEventSourceMappings'], resources: ['*'] }),
    new iam.PolicyStatement({
      actions: ['lambda:UpdateEventSourceMapping'],
      resources: [anyMapping],
      conditions: { StringEquals: { 'lambda:FunctionArn': consumer.functionArn } },
    }),
  ];
}

function acknowledgeMappingSwitch(construct: Construct): void {
  Validations.of(construct).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason: 'lambda:ListEventSourceMappings has no resource-level permissions (IAM service authorization reference); it only finds the UUID of the consumer\'s own mapping, which cannot be passed in at deploy time without a cycle.',
  });
  Validations.of(construct).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:event-source-mapping:*]',
    reason: 'The mapping\'s UUID is not known before deployment; the statement is limited to the mappings of the consumer function by the lambda:FunctionArn condition key, which UpdateEventSourceMapping supports.',
  });
}

/** What is wrong with `circuitBreaker` props, for the construct's one validation error. */
export function circuitBreakerProblems(options: CircuitBreakerOptions | undefined): string[] {
  if (!options) return [];
  const problems: string[] = [];
  const { failureThreshold: threshold, windowSeconds: window, coolDownSeconds: coolDown } = CIRCUIT_BOUNDS;
  if (options.failureThreshold !== undefined && !Token.isUnresolved(options.failureThreshold) && !(Number.isInteger(options.failureThreshold) && options.failureThreshold >= threshold.min && options.failureThreshold <= threshold.max)) {
    problems.push(`\`circuitBreaker.failureThreshold\` must be an integer from ${threshold.min} to ${threshold.max}`);
  }
  const inSeconds = (name: string, duration: Duration | undefined, bounds: { min: number; max: number }, range: string) => {
    if (!duration || duration.isUnresolved()) return;
    const seconds = duration.toSeconds({ integral: false });
    if (!Number.isInteger(seconds) || seconds < bounds.min || seconds > bounds.max) problems.push(`\`circuitBreaker.${name}\` must be whole seconds from ${range}`);
  };
  inSeconds('window', options.window, window, '1 second to 1 day');
  inSeconds('coolDown', options.coolDown, coolDown, '1 second to 12 hours');
  return problems;
}
