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
import { digestOf } from '../inbox/inbox';
import { DEAD_LETTER_ATTRIBUTES } from '../consumer/MessageDeadLetters';
import { generationGroup, PARKED_GROUP_ATTRIBUTE, REDRIVE_ATTRIBUTE, RELEASE_ATTRIBUTE, type ParkedGroups, type ReleaseMarker } from '../consumer/ParkedGroups';
import { SettleTracker } from '../progress/SettleTracker';

export interface RedriveOptions {
  readonly sqs: SQSClient;
  readonly deadLetterQueueUrl: string;
  /** Where the messages go back to: the queue whose redrive policy names this DLQ. */
  readonly sourceQueueUrl: string;
  /**
   * FIFO: the consumer's parked groups. After the DLQ is drained each gets a release marker; the
   * consumer lifts the park when it reaches it (every redriven message before it applied), and the
   * run drains again while live messages were diverted meanwhile.
   */
  readonly parkedGroups?: Pick<ParkedGroups, 'list' | 'get'>;
  /**
   * How long the consumer may make no progress towards the release markers before the run gives up
   * (it is re-runnable). Progress: a marker reached, the source queue shorter than ever in this pass,
   * or messages in flight (the consumer is receiving: a backlog that live traffic keeps long is still
   * being worked through). There is no overall limit: a slow consumer far behind is waited for; use
   * `signal` to stop. @default 300
   */
  readonly releaseIdleSeconds?: number;
  /** Drain-and-release passes before giving up (a group under heavy live traffic). @default 20 */
  readonly maxPasses?: number;
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

const OUR_ATTRIBUTES = new Set<string>([...Object.values(DEAD_LETTER_ATTRIBUTES), REDRIVE_ATTRIBUTE, RELEASE_ATTRIBUTE, PARKED_GROUP_ATTRIBUTE]);

/** The consumer's group a dead letter belongs to: its DLQ group, unless it sits in a failed run's own. */
const groupOf = (message: Message): string | undefined => message.MessageAttributes?.[PARKED_GROUP_ATTRIBUTE]?.StringValue ?? message.Attributes?.MessageGroupId;

async function attributes(sqs: SQSClient, queueUrl: string): Promise<{ arn: string; fifo: boolean; depth: number; inFlight: number }> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn', 'FifoQueue', 'ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  const inFlight = Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
  return { arn: Attributes.QueueArn ?? '', fifo: Attributes.FifoQueue === 'true', depth: Number(Attributes.ApproximateNumberOfMessages ?? 0) + inFlight, inFlight };
}

/**
 * Moves a dead-letter queue's messages back to their source queue without losing or doubling one,
 * also when interrupted half-way: each is sent before it is deleted, and a re-sent FIFO message keeps
 * its deduplication id (the DLQ message id) — beyond SQS's 5-minute window the consumer's idempotency
 * on the event id absorbs a repeat. Standard queues use `StartMessageMoveTask` where the cloud has
 * it. FIFO queues go group by group, in their original order; each group's park is lifted by the
 * consumer once the redriven messages are applied and no live message was diverted meanwhile (see
 * ParkedGroups): no message of the group is ever applied before an older one. Where an earlier run's
 * redriven message failed again, that run's DLQ group goes first (newest run first), then the group's own.
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
  /** Groups left parked, with the DLQ messages held back for them (by message id: the latest receipt handle). */
  const stuck = new Map<string, { reason: string; held: Map<string, Message> }>();
  const released: string[] = [];
  /**
   * Parked groups with failed runs: their DLQ groups in the order they are sent back (the newest
   * failed run's first, the group's own last). A DLQ group's messages wait, hidden, while one before
   * it may hold messages; it is done once the DLQ holds nothing else within reach.
   */
  const sendOrder = new Map<string, string[]>();
  for (const park of fifo && options.parkedGroups ? await options.parkedGroups.list() : []) {
    if (park.generations.length > 0) sendOrder.set(park.group, [...[...park.generations].reverse().map((run) => generationGroup(park.group, run)), park.group]);
  }
  const done = new Set<string>();
  /** Messages waiting for an earlier DLQ group of their group, by DLQ group, then message id. */
  const deferred = new Map<string, Map<string, Message>>();
  const mustWait = (group: string, dlqGroup: string): boolean => {
    const order = sendOrder.get(group) ?? [];
    return order.slice(0, Math.max(0, order.indexOf(dlqGroup))).some((earlier) => !done.has(earlier));
  };

  const checkpoint = (step: string) => {
    options.onProgress?.({ moved, remaining: Math.max(0, depth - moved), step });
    if (signal?.aborted) throw new RedriveInterruptedError(`interrupted after moving ${moved} message(s); run it again to finish`);
  };

  /** Sends the DLQ's messages back (marked) until it holds nothing but what this run keeps back on purpose. */
  const drain = async () => {
    // Messages received by an earlier, interrupted run stay hidden for their visibility timeout and
    // hide the rest of their group: wait for them (a little longer than that) before giving up —
    // counted from the last message moved, however long moving the others took.
    const waitSeconds = (options.visibilityTimeoutSeconds ?? 60) + 30;
    const progress = new SettleTracker({ idleMs: waitSeconds * 1000 });
    for (let round = 1; ; round++) {
      const movedBefore = moved;
      // Receive in order (FIFO: a group's messages come in sequence), send back, then delete.
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
          const dlqGroup = message.Attributes?.MessageGroupId;
          const group = groupOf(message);
          const failedAgain = message.MessageAttributes?.[REDRIVE_ATTRIBUTE]?.StringValue === options.runId;
          if (group !== undefined && (failedAgain || stuck.has(group))) {
            // Keep it (and every later message of its group) hidden until the run ends, in order.
            const entry = stuck.get(group) ?? { reason: message.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.errorMessage]?.StringValue ?? 'failed again', held: new Map<string, Message>() };
            // Held longer than its visibility, a message is received again: keep its newest receipt handle.
            entry.held.set(message.MessageId ?? message.ReceiptHandle!, message);
            stuck.set(group, entry);
            continue;
          }
          if (group !== undefined && dlqGroup !== undefined && mustWait(group, dlqGroup)) {
            const wait = deferred.get(dlqGroup) ?? new Map<string, Message>();
            wait.set(message.MessageId ?? message.ReceiptHandle!, message);
            deferred.set(dlqGroup, wait);
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
          checkpoint('moved');
        }
      }
      // Drained only when nothing is left but what this run holds back on purpose. Standard queue:
      // every message left is one held. FIFO: the receive that just came back empty skips only the
      // groups with a message in flight, so when the only ones in flight are those held, whatever is
      // left is behind them in their stuck groups (kept, in order); a message in flight elsewhere (an
      // interrupted run's) hides its group's later ones, so the drain waits for it.
      const held = [...stuck.values()].reduce((sum, { held }) => sum + held.size, 0) + [...deferred.values()].reduce((sum, wait) => sum + wait.size, 0);
      const queue = await attributes(sqs, options.deadLetterQueueUrl);
      const left = fifo ? queue.inFlight - held : queue.depth - held;
      if (left <= 0 && deferred.size === 0) return;
      if (left <= 0) {
        // Nothing else within reach: a DLQ group with no message waiting holds none any more. Each
        // group's first one with waiting messages is next: shown again, in its order, and sent.
        for (const order of sendOrder.values()) {
          for (const dlqGroup of order) {
            const wait = deferred.get(dlqGroup);
            if (wait === undefined) {
              done.add(dlqGroup);
              continue;
            }
            await show(wait.values());
            deferred.delete(dlqGroup);
            break;
          }
        }
        continue;
      }
      if (progress.observe({ left }, moved > movedBefore) === 'stalled') throw new Error(`the dead-letter queue did not drain: ${left} message(s) stayed out of reach for ${waitSeconds} s (in flight elsewhere?); ${moved} moved so far — run it again`);
      checkpoint('waiting for in-flight messages');
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 100 * round)));
    }
  };

  /**
   * Lets the held messages be seen again, still in their order, also when the run stops early. One
   * whose visibility already ran out is visible again (its handle is stale): that is the point, not an error.
   */
  async function show(messages: Iterable<Message>): Promise<void> {
    for (const message of messages) {
      await sqs
        .send(new ChangeMessageVisibilityCommand({ QueueUrl: options.deadLetterQueueUrl, ReceiptHandle: message.ReceiptHandle!, VisibilityTimeout: 0 }))
        .catch((error: unknown) => {
          if (!(error instanceof Error && /ReceiptHandleIsInvalid|MessageNotInflight/.test(error.name))) throw error;
        });
    }
  }
  const showHeld = async () => {
    for (const held of [...[...stuck.values()].map(({ held }) => held), ...deferred.values()]) await show(held.values());
  };

  let finished = false;
  try {
    await drain();
    if (fifo && options.parkedGroups) {
      // Each parked group gets a release marker behind what was sent back; the consumer lifts the park
      // when it reaches the marker, unless live messages were diverted meanwhile — then drain again.
      const parked = options.parkedGroups;
      const markerRun = `${options.runId}-${Date.now().toString(36)}`;
      for (let pass = 1; ; pass++) {
        const waiting = new Map<string, ReleaseMarker>();
        for (const park of await parked.list()) {
          if (stuck.has(park.group)) continue;
          if (park.failedInRun === options.runId) {
            stuck.set(park.group, { reason: 'a redriven message failed again', held: new Map() });
            continue;
          }
          const marker: ReleaseMarker = { runId: options.runId, pass, group: park.group, diverted: park.diverted };
          await sqs.send(
            new SendMessageCommand({
              QueueUrl: options.sourceQueueUrl,
              MessageBody: JSON.stringify(marker),
              MessageAttributes: { [RELEASE_ATTRIBUTE]: { DataType: 'String', StringValue: options.runId } },
              MessageGroupId: park.group,
              // Deduplication is per queue, not per group: the id names the group too.
              MessageDeduplicationId: `release-${digestOf([markerRun, pass, park.group])}`,
            }),
          );
          waiting.set(park.group, marker);
        }
        if (waiting.size === 0) break;
        checkpoint(`waiting for the consumer to reach ${waiting.size} release marker(s)`);
        let held = false;
        const idleSeconds = options.releaseIdleSeconds ?? 300;
        const progress = new SettleTracker({ idleMs: idleSeconds * 1000 });
        while (waiting.size > 0) {
          for (const [group, marker] of waiting) {
            const park = await parked.get(group);
            if (park === undefined) {
              released.push(group);
              waiting.delete(group);
            } else if (park.failedInRun === options.runId) {
              stuck.set(group, { reason: 'a redriven message failed again', held: new Map() });
              waiting.delete(group);
            } else if (park.heldAt === `${marker.runId}/${marker.pass}`) {
              held = true; // live messages were diverted behind the redriven ones: they go back next pass
              waiting.delete(group);
            }
          }
          if (waiting.size === 0) break;
          const source = await attributes(sqs, options.sourceQueueUrl);
          if (progress.observe({ markers: waiting.size, queue: source.depth }, source.inFlight > 0) === 'stalled') {
            throw new Error(`no progress towards the release marker of ${waiting.size} group(s) for ${idleSeconds} s (is the consumer running?): its queue holds ${source.depth}, none in flight; run the redrive again`);
          }
          checkpoint('waiting for release markers');
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
        if (!held) break;
        if (pass >= (options.maxPasses ?? 20)) throw new Error(`parked groups still held after ${pass} passes (live traffic keeps arriving behind them); run the redrive again`);
        await drain();
      }
    }
    finished = true;
  } finally {
    // On the way out of a failed or interrupted run, its own error is the one to report.
    await showHeld().catch((error: unknown) => {
      if (finished) throw error;
    });
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
