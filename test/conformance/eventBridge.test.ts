import {
  CreateEventBusCommand,
  DeleteEventBusCommand,
  DeleteRuleCommand,
  EventBridgeClient,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, unique } from '../support/eventually';

// AWS behaviour relied on: a rule on a custom bus matches on source and detail-type and delivers the
// whole event, with our envelope as `detail`, to an SQS target; other events are not delivered.
describe('EventBridge rule → SQS target (conformance)', () => {
  const events = new EventBridgeClient({});
  const sqs = new SQSClient({});
  const bus = unique('conf-bus');
  const rule = unique('conf-rule');
  let queueUrl = '';

  afterAll(async () => {
    await events.send(new RemoveTargetsCommand({ Rule: rule, EventBusName: bus, Ids: ['q'] })).catch(() => undefined);
    await events.send(new DeleteRuleCommand({ Name: rule, EventBusName: bus })).catch(() => undefined);
    await events.send(new DeleteEventBusCommand({ Name: bus })).catch(() => undefined);
    if (queueUrl) await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
  });

  it('delivers matching events with the detail intact, and only those', async () => {
    // arrange
    await events.send(new CreateEventBusCommand({ Name: bus }));
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: unique('conf-target') }))).QueueUrl!;
    const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    await events.send(new PutRuleCommand({ Name: rule, EventBusName: bus, EventPattern: JSON.stringify({ source: ['conf.orders'], 'detail-type': ['conf.order.placed'] }) }));
    await events.send(new PutTargetsCommand({ Rule: rule, EventBusName: bus, Targets: [{ Id: 'q', Arn: queueArn }] }));
    const detail = { specversion: '1.0', id: unique('evt'), data: { n: 1 } };

    // act
    const put = await events.send(
      new PutEventsCommand({
        Entries: [
          { EventBusName: bus, Source: 'conf.orders', DetailType: 'conf.order.placed', Detail: JSON.stringify(detail) },
          { EventBusName: bus, Source: 'conf.orders', DetailType: 'conf.order.cancelled', Detail: JSON.stringify({ other: true }) },
          { EventBusName: bus, Source: 'conf.elsewhere', DetailType: 'conf.order.placed', Detail: JSON.stringify({ other: true }) },
        ],
      }),
    );
    expect(put.FailedEntryCount).toBe(0);
    const bodies: string[] = [];
    await eventually(
      async () => {
        const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
        bodies.push(...(got.Messages ?? []).map((m) => m.Body!));
        return bodies.length;
      },
      (n) => n >= 1,
      { what: 'the matching event', timeoutMs: 20_000 },
    );
    // a little longer, to see that nothing else arrives
    const late = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 2 }));
    bodies.push(...(late.Messages ?? []).map((m) => m.Body!));

    // assert
    expect(bodies).toHaveLength(1);
    const event = JSON.parse(bodies[0]!) as { source: string; 'detail-type': string; detail: unknown };
    expect(event.source).toBe('conf.orders');
    expect(event['detail-type']).toBe('conf.order.placed');
    expect(event.detail).toEqual(detail);
  });
});
