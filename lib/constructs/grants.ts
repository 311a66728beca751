import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sqs from 'aws-cdk-lib/aws-sqs';

/**
 * `sqs:SendMessage` on one queue, and on its KMS key exactly what a producer needs
 * (`kms:GenerateDataKey`, `kms:Decrypt`). CDK's `grantSendMessages` also grants `kms:ReEncrypt*` and
 * `kms:GenerateDataKey*`, wider than needed.
 */
export function grantSendMessage(grantee: iam.IGrantable, queue: sqs.IQueue): iam.Grant {
  queue.encryptionMasterKey?.grant(grantee, 'kms:GenerateDataKey', 'kms:Decrypt');
  return iam.Grant.addToPrincipal({ grantee, actions: ['sqs:SendMessage'], resourceArns: [queue.queueArn] });
}
