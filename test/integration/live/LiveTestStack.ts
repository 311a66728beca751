import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { LiveUpdates } from '../../../lib/constructs/LiveUpdates';

export const LIVE_TEST_KIND = 'test.row';

/**
 * Test-only: a read-model table (items `{ pk, state, revision, version }`, stream of new images)
 * whose changes `LiveUpdates` pushes to WebSocket clients on stage `live`.
 */
export class LiveTestStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const table = new dynamodb.Table(this, 'ReadModel', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      stream: dynamodb.StreamViewType.NEW_IMAGE,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const live = new LiveUpdates(this, 'Live', { table, messageKind: LIVE_TEST_KIND, removalPolicy: RemovalPolicy.DESTROY });

    const outputs = {
      ReadModelTableName: table.tableName,
      LiveApiId: live.api.apiId,
      LiveStageName: live.stage.stageName,
      ConnectionsTableName: live.connectionsTable.tableName,
      DeadLetterQueueUrl: live.deadLetterQueue.queueUrl,
      PushFunctionName: live.pushFunction.functionName,
    };
    for (const [name, value] of Object.entries(outputs)) new CfnOutput(this, name, { value });
  }
}
