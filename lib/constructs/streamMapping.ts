import { Validations, type Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { grantSendMessage } from './grants';

export interface StreamMappingProps {
  readonly fn: lambda.Function;
  /** A table with a stream. */
  readonly table: dynamodb.ITable;
  /** Where batches that exhaust their retries are recorded. */
  readonly deadLetterQueue: sqs.IQueue;
  readonly startingPosition: lambda.StartingPosition;
  readonly batchSize: number;
  readonly retryAttempts: number;
  readonly maxBatchingWindow?: Duration;
  readonly filters: Array<Record<string, unknown>>;
}

/**
 * A DynamoDB Stream → Lambda mapping as the toolkit runs them: partial batch responses, bisect on
 * error, bounded retries, an SQS on-failure destination, one shard reader at a time, and exactly the
 * grants it needs (DynamoEventSource would grant kms:ReEncrypt* and more).
 */
export function streamMapping(scope: Construct, id: string, props: StreamMappingProps): lambda.EventSourceMapping {
  const { fn, table, deadLetterQueue } = props;
  const streamArn = table.tableStreamArn!;
  iam.Grant.addToPrincipal({ grantee: fn, actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'], resourceArns: [streamArn] });
  iam.Grant.addToPrincipal({ grantee: fn, actions: ['dynamodb:ListStreams'], resourceArns: ['*'] });
  table.encryptionKey?.grant(fn, 'kms:Decrypt');
  Validations.of(fn.role!).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason: 'dynamodb:ListStreams has no resource-level permissions (IAM service authorization reference); it lists stream ARNs only, and the Lambda event-source mapping documents it as required.',
  });
  return new lambda.EventSourceMapping(scope, id, {
    target: fn,
    eventSourceArn: streamArn,
    startingPosition: props.startingPosition,
    batchSize: props.batchSize,
    ...(props.maxBatchingWindow ? { maxBatchingWindow: props.maxBatchingWindow } : {}),
    bisectBatchOnError: true,
    reportBatchItemFailures: true,
    retryAttempts: props.retryAttempts,
    parallelizationFactor: 1,
    onFailure: {
      bind: (_mapping, target) => {
        grantSendMessage(target, deadLetterQueue);
        return { destination: deadLetterQueue.queueArn };
      },
    },
    filters: props.filters,
  });
}
