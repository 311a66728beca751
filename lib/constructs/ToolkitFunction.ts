import * as path from 'node:path';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { LAYER_MODULES, PowertoolsLayer } from './PowertoolsLayer';
import { PROJECT_ROOT } from './projectRoot';

export { PROJECT_ROOT };

export interface ToolkitFunctionProps extends Omit<nodejs.NodejsFunctionProps, 'entry' | 'runtime' | 'bundling'> {
  /** The handler file, relative to the repository root, e.g. `functions/toolkit/relay/handler.ts`. */
  readonly entry: string;
}

/**
 * A Node.js Lambda with the toolkit's defaults: `nodejs22.x` on ARM, bundled by local esbuild
 * (no Docker), minified with source maps, JSON logs kept for a month. The bundle carries the
 * handler's own code and zod; the AWS SDK v3 is the runtime's, Powertools comes from the stack's
 * `PowertoolsLayer` (so each bundle stays small; `npm run bench` reports the sizes).
 */
export class ToolkitFunction extends nodejs.NodejsFunction {
  constructor(scope: Construct, id: string, props: ToolkitFunctionProps) {
    const logGroup =
      (props.logGroup as logs.ILogGroup | undefined) ??
      new logs.LogGroup(scope, `${id}Logs`, { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    // A role of its own that may write only to its own log group (instead of the AWS managed
    // AWSLambdaBasicExecutionRole, which may write to every log group of the account).
    const role =
      props.role ??
      new iam.Role(scope, `${id}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: `Execution role of ${id}` });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }),
    );
    super(scope, id, {
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(30),
      loggingFormat: lambda.LoggingFormat.JSON,
      ...props,
      layers: [PowertoolsLayer.of(scope), ...(props.layers ?? [])],
      logGroup,
      role,
      entry: path.join(PROJECT_ROOT, props.entry),
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
      bundling: {
        forceDockerBundling: false,
        externalModules: ['@aws-sdk/*', ...LAYER_MODULES],
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        target: 'node22',
        format: nodejs.OutputFormat.CJS,
        mainFields: ['module', 'main'],
      },
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'nodejs22.x is the runtime this project targets and tests (Active LTS); moving to a newer runtime is a deliberate, tested change.',
    });
  }
}
