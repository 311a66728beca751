import { Duration, Validations } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/**
 * The dead-letter queue of a stream mapping's on-failure destination, as the toolkit makes them:
 * KMS-encrypted with `key`, TLS-only, messages kept 14 days (the longest SQS allows). cdk-nag cannot
 * tell it is a DLQ (no queue redrives to it), so `what` names it in the acknowledgement.
 */
export function newDeadLetterQueue(scope: Construct, id: string, key: kms.IKey, what: string): sqs.Queue {
  const queue = new sqs.Queue(scope, id, { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: key, enforceSSL: true, retentionPeriod: Duration.days(14) });
  Validations.of(queue).acknowledge({ id: 'AwsSolutions-SQS3', reason: `This is the ${what} dead-letter queue itself; its messages are kept 14 days and alarmed on.` });
  return queue;
}
