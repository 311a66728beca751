import { Match, type Template } from 'aws-cdk-lib/assertions';

/** The queue has a policy that denies every SQS action on it over plain HTTP (`enforceSSL`). */
export function expectTlsOnlyPolicy(template: Template, queueLogicalId: string): void {
  template.hasResourceProperties('AWS::SQS::QueuePolicy', {
    Queues: Match.arrayWith([{ Ref: queueLogicalId }]),
    PolicyDocument: {
      Statement: Match.arrayWith([
        Match.objectLike({
          Effect: 'Deny',
          Action: 'sqs:*',
          Principal: { AWS: '*' },
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          Resource: { 'Fn::GetAtt': [queueLogicalId, 'Arn'] },
        }),
      ]),
    },
  });
}
