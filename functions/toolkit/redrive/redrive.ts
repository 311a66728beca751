import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  StartMessageMoveTaskCommand,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { DEAD_LETTER_ATTRIBUTES } from '../consumer/MessageDeadLetters';
import { REDRIVE_ATTRIBUTE, type ParkedGroups } from '../consumer/ParkedGroups';

export interface RedriveOptions {
  readonly sqs: SQSClient;
  readonly deadLetterQueueUrl: string;
  /** Where the messages go back to: the queue whose redrive policy names this DLQ. */
  readonly sourceQueueUrl: string;
  /** FIFO: the consumer's parked groups, released once their backlog is back in the source queue. */
  readonly parkedGroups?: ParkedGroups;
  /** Marks this run's messages, so one that fails again is recognised and its group left parked. */
  readonly runId: string;
  /** Stops between two steps (Ctrl-C); a re-run finishes the job with nothing lost or doubled. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: RedriveProgress) => void;
  /** Seconds a received message stays hidden while it is moved. @default 60 */
  readonly visibilityTimeoutSeconds?: number;
}

export interface RedriveProgress {
  readonly moved: number;
  readonly remaining: number;
  readonly step: string;
}

export interface RedriveReport {
  readonly method: 'message-move-task' | 'receive-send-delete';
  readonly moved: number;
  readonly releasedGroups: string[];
  /** Groups whose redriven message failed again in this run: left parked, their messages kept in order. */
  readonly stuckGroups: Array<{ group: string; reason: string }>;
}

export class RedriveInterruptedError extends Error {
  override name = 'RedriveInterruptedError';
}

const OUR_ATTRIBUTES = new Set<string>([...Object.values(DEAD_LETTER_ATTRIBUTES), REDRIVE_ATTRIBUTE]);

async function attributes(sqs: SQSClient, queueUrl: string): Promise<{ arn: string; fifo: boolean; depth: number }> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn', 'FifoQueue', 'ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return { arn: Attributes.QueueArn ?? '', fifo: Attributes.FifoQueue === 'true', depth: Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) };
}

/**
 * Moves a dead-letter queue's messages back to their source queue without losing or doubling one,
 * also when interrupted half-way: each is sent before it is deleted, and a re-sent FIFO message keeps
 * its deduplication id (the DLQ message id) — beyond SQS's 5-minute window the consumer's idempotency
 * on the event id absorbs a repeat. Standard queues use `StartMessageMoveTask` where the cloud has
 * it. FIFO queues go group by group, in their original order; each group's park is lifted only when
 * its backlog is back and no diversion raced in (see ParkedGroups).
 */
export async function redrive(options: RedriveOptions): Promise<RedriveReport> {
  const dlq = await attributes(options.sqs, options.deadLetterQueueUrl);
  if (!dlq.fifo) {
    const moved = await tryMessageMoveTask(options, dlq);
    if (moved !== undefined) return { method: 'message-move-task', moved, releasedGroups: [], stuckGroups: [] };
  }
  return moveByHand(options, dlq.fifo, dlq.depth);
}

/** `StartMessageMoveTask` (standard queues only); `undefined` where the cloud does not offer it. */
async function tryMessageMoveTask(options: RedriveOptions, dlq: { arn: string; depth: number }): Promise<number | undefined> {
  const source = await attributes(options.sqs, options.sourceQueueUrl);
  try {
    await options.sqs.send(new StartMessageMoveTaskCommand({ SourceArn: dlq.arn, DestinationArn: source.arn }));
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    if (/UnsupportedOperation|InvalidAction|UnknownOperation|NotImplemented|InvalidParameterValue/i.test(name) || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 501) return undefined;
    throw error;
  }
  for (;;) {
    if (options.signal?.aborted) throw new RedriveInterruptedError('interrupted; the move task goes on in the cloud');
    const { Results = [] } = await options.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: dlq.arn, MaxResults: 1 }));
    const task = Results[0];
    options.onProgress?.({ moved: task?.ApproximateNumberOfMessagesMoved ?? 0, remaining: Math.max(0, dlq.depth - (task?.ApproximateNumberOfMessagesMoved ?? 0)), step: task?.Status ?? 'RUNNING' });
    if (task?.Status === 'COMPLETED') return task.ApproximateNumberOfMessagesMoved ?? 0;
    if (task?.Status === 'FAILED' || task?.Status === 'CANCELLED') throw new Error(`message move task ${task.Status}: ${task.FailureReason ?? ''}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function moveByHand(options: RedriveOptions, fifo: boolean, depth: number): Promise<RedriveReport> {
  const { sqs, signal } = options;
  let moved = 0;
  const groups = new Set<string>();
  const stuck = new Map<string, { reason: string; held: Message[] }>();
  const released: string[] = [];

  const checkpoint = (step: string) => {
    options.onProgress?.({ moved, remaining: Math.max(0, depth - moved), step });
    if (signal?.aborted) throw new RedriveInterruptedError(`interrupted after moving ${moved} message(s); run it again to finish`);
  };

  // Messages received by an earlier, interrupted run stay hidden for their visibility timeout and hide
  // the rest of their group: the run waits for them (a little longer than that) before it may end.
  const deadline = Date.now() + ((options.visibilityTimeoutSeconds ?? 60) + 30) * 1000;
  for (let pass = 1; ; pass++) {
    // Drain: receive in order (FIFO: a group's messages come in sequence), send back, then delete.
    for (;;) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: options.deadLetterQueueUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: options.visibilityTimeoutSeconds ?? 60,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['MessageGroupId'],
          WaitTimeSeconds: 0,
        }),
      );
      if (Messages.length === 0) break;
      for (const message of Messages) {
        const group = message.Attributes?.MessageGroupId;
        const failedAgain = message.MessageAttributes?.[REDRIVE_ATTRIBUTE]?.StringValue === options.runId;
        if (group !== undefined && (failedAgain || stuck.has(group))) {
          // Keep it (and every later message of its group) hidden until the run ends, in order.
          const entry = stuck.get(group) ?? { reason: message.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.errorMessage]?.StringValue ?? 'failed again', held: [] };
          entry.held.push(message);
          stuck.set(group, entry);
          continue;
        }
        await sqs.send(
          new SendMessageCommand({
            QueueUrl: options.sourceQueueUrl,
            MessageBody: message.Body ?? '',
            MessageAttributes: { ...originalAttributes(message), [REDRIVE_ATTRIBUTE]: { DataType: 'String', StringValue: options.runId } },
            ...(group === undefined ? {} : { MessageGroupId: group, MessageDeduplicationId: `redrive-${message.MessageId}` }),
          }),
        );
        checkpoint('sent'); // the worst moment to stop: sent, not yet deleted — a re-run must cope
        await sqs.send(new DeleteMessageCommand({ QueueUrl: options.deadLetterQueueUrl, ReceiptHandle: message.ReceiptHandle! }));
        moved++;
        if (group !== undefined) groups.add(group);
        checkpoint('moved');
      }
    }
    // Drained only when nothing is left but what this run holds back on purpose (hidden messages
    // count: a group's message in flight hides the group's later ones from every receive).
    const held = [...stuck.values()].reduce((sum, { held }) => sum + held.length, 0);
    let done = (await attributes(sqs, options.deadLetterQueueUrl)).depth <= held;
    if (done && fifo && options.parkedGroups) {
      // Lift the parks of drained groups; one whose diversion raced in needs another pass.
      for (const park of await options.parkedGroups.list()) {
        if (stuck.has(park.group)) continue;
        if (await options.parkedGroups.release(park.group, park)) released.push(park.group);
        else done = false;
      }
    }
    if (done) break;
    if (Date.now() > deadline) throw new Error(`the dead-letter queue did not drain (messages in flight elsewhere?); ${moved} moved so far — run it again`);
    checkpoint('waiting for in-flight messages');
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 100 * pass)));
  }

  // Let the stuck groups' messages be seen again, still in their order.
  for (const { held } of stuck.values()) {
    for (const message of held) {
      await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: options.deadLetterQueueUrl, ReceiptHandle: message.ReceiptHandle!, VisibilityTimeout: 0 }));
    }
  }
  return {
    method: 'receive-send-delete',
    moved,
    releasedGroups: released,
    stuckGroups: [...stuck.entries()].map(([group, { reason }]) => ({ group, reason })),
  };
}

/** The message's own attributes, without the ones the dead-lettering and a previous redrive added. */
function originalAttributes(message: Message): Record<string, MessageAttributeValue> {
  return Object.fromEntries(Object.entries(message.MessageAttributes ?? {}).filter(([name]) => !OUR_ATTRIBUTES.has(name)));
}
