import * as z from 'zod';

// The shapes of a synthesized template that the stack tests read: parsed, so that a changed shape
// fails with a message rather than an undefined deep inside an assertion.

export const Resources = z.record(z.string(), z.object({ Type: z.string(), Properties: z.record(z.string(), z.unknown()).default({}) }));
export const GetAtt = z.object({ 'Fn::GetAtt': z.tuple([z.string(), z.string()]) });
export const Ref = z.object({ Ref: z.string() });
export const FunctionProps = z.object({
  Description: z.string().optional(),
  Code: z.object({ S3Key: z.string() }).optional(),
  Environment: z.object({ Variables: z.record(z.string(), z.unknown()) }).optional(),
});
export const RuleProps = z.object({
  EventBusName: Ref.optional(),
  EventPattern: z.object({ source: z.array(z.string()).optional(), 'detail-type': z.array(z.string()).optional() }).strict().optional(),
  ScheduleExpression: z.string().optional(),
  Targets: z.array(z.object({ Arn: GetAtt, Input: z.string().optional(), DeadLetterConfig: z.object({ Arn: GetAtt }).optional() })),
});
export const QueueProps = z.object({
  KmsMasterKeyId: GetAtt,
  FifoQueue: z.boolean().optional(),
  QueueName: z.string().optional(),
  RedrivePolicy: z.object({ deadLetterTargetArn: GetAtt, maxReceiveCount: z.number().optional() }).optional(),
});
export const MappingProps = z.object({
  EventSourceArn: GetAtt,
  FunctionName: Ref,
  FunctionResponseTypes: z.array(z.string()).optional(),
  DestinationConfig: z.object({ OnFailure: z.object({ Destination: GetAtt }) }).optional(),
});
export const RouteProps = z.object({ ApiId: Ref, RouteKey: z.string(), Target: z.unknown() });
export const IntegrationProps = z.object({ IntegrationUri: GetAtt });
export const PolicyProps = z.object({
  PolicyDocument: z.object({ Statement: z.array(z.object({ Effect: z.string(), Action: z.union([z.string(), z.array(z.string())]), Resource: z.unknown() })) }),
});
export const AlarmProps = z.object({
  Namespace: z.string().optional(),
  MetricName: z.string().optional(),
  Dimensions: z.array(z.object({ Name: z.string(), Value: z.unknown() })).optional(),
  Threshold: z.number(),
  ComparisonOperator: z.string(),
});
export const TableProps = z.object({ TimeToLiveSpecification: z.object({ AttributeName: z.string(), Enabled: z.boolean() }).optional() });
