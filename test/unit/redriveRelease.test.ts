/**
 * How long `redrive()` waits for the consumer to reach a parked group's release marker: as long as the
 * consumer makes progress, not a fixed time. The 2026-12 full chaos run redrove FraudWatch's DLQ while
 * its FIFO queue was ~4,700 messages behind and draining at a few per second: a fixed 300 s gave up on
 * a consumer that was working. A consumer that does not run must still end the wait, with the reason.
 *
 * An in-memory SQS (FIFO, one source queue and its DLQ) and a simulated consumer on fake timers: the
 * consumer receives one message at a time and deletes it when done, and lifts the park when it reaches
 * the release marker, as the toolkit's consumer does.
 *
 * Also: a group whose redriven message failed again in earlier runs is sent back in its order, each
 * failed run's own DLQ group (newest first) before the group's.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEAD_LETTER_ATTRIBUTES } from '../../functions/toolkit/consumer/MessageDeadLetters';
import { generationGroup, PARKED_GROUP_ATTRIBUTE, REDRIVE_ATTRIBUTE, RELEASE_ATTRIBUTE, type ParkedGroup } from '../../functions/toolkit/consumer/ParkedGroups';
import { redrive, RedriveInterruptedError, type RedriveReport } from '../../functions/toolkit/redrive';

interface Stored {
  id: string;
  body: string;
  group: string;
  attributes: Record<string, MessageAttributeValue>;
  invisibleUntil: number;
  receipt: string;
}

/** Just enough of SQS FIFO for the redrive: per-queue order, visibility, approximate counts. */
class MemorySqs {
  readonly queues = new Map<string, Stored[]>();
  private next = 0;

  constructor(...urls: string[]) {
    for (const url of urls) this.queues.set(url, []);
  }

  push(url: string, group: string, body: string, attributes: Record<string, MessageAttributeValue> = {}): void {
    this.queue(url).push({ id: `m${++this.next}`, body, group, attributes, invisibleUntil: 0, receipt: '' });
  }

  queue(url: string): Stored[] {
    const queue = this.queues.get(url);
    if (!queue) throw new Error(`no queue ${url}`);
    return queue;
  }

  /** FIFO: the oldest visible message of a group none of whose messages is in flight. */
  receive(url: string, max: number, visibilitySeconds: number): Stored[] {
    const now = Date.now();
    const busy = new Set(this.queue(url).filter((m) => m.invisibleUntil > now).map((m) => m.group));
    const out: Stored[] = [];
    for (const message of this.queue(url)) {
      if (out.length === max) break;
      if (message.invisibleUntil > now || busy.has(message.group)) continue;
      if (out.some((m) => m.group === message.group)) continue; // one per group keeps the order simple
      message.invisibleUntil = now + visibilitySeconds * 1000;
      message.receipt = `r${++this.next}`;
      out.push(message);
    }
    return out;
  }

  delete(url: string, receipt: string): void {
    const queue = this.queue(url);
    const at = queue.findIndex((m) => m.receipt === receipt);
    if (at >= 0) queue.splice(at, 1);
  }

  /** Milliseconds each call takes (on the test's fake clock). */
  latencyMs = 0;

  readonly client = {
    send: async (command: unknown): Promise<unknown> => {
      if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
      if (command instanceof GetQueueAttributesCommand) {
        const queue = this.queue(command.input.QueueUrl!);
        const inFlight = queue.filter((m) => m.invisibleUntil > Date.now()).length;
        return { Attributes: { QueueArn: `arn:${command.input.QueueUrl}`, FifoQueue: 'true', ApproximateNumberOfMessages: String(queue.length - inFlight), ApproximateNumberOfMessagesNotVisible: String(inFlight) } };
      }
      if (command instanceof ReceiveMessageCommand) {
        const received = this.receive(command.input.QueueUrl!, command.input.MaxNumberOfMessages ?? 1, command.input.VisibilityTimeout ?? 30);
        return { Messages: received.map((m): Message => ({ MessageId: m.id, ReceiptHandle: m.receipt, Body: m.body, MessageAttributes: m.attributes, Attributes: { MessageGroupId: m.group } })) };
      }
      if (command instanceof SendMessageCommand) {
        this.push(command.input.QueueUrl!, command.input.MessageGroupId!, command.input.MessageBody!, command.input.MessageAttributes ?? {});
        return { MessageId: `m${this.next}` };
      }
      if (command instanceof DeleteMessageCommand) {
        this.delete(command.input.QueueUrl!, command.input.ReceiptHandle!);
        return {};
      }
      if (command instanceof ChangeMessageVisibilityCommand) {
        const message = this.queue(command.input.QueueUrl!).find((m) => m.receipt === command.input.ReceiptHandle);
        if (message) message.invisibleUntil = Date.now() + (command.input.VisibilityTimeout ?? 0) * 1000;
        return {};
      }
      throw new Error(`MemorySqs: ${(command as object).constructor.name} not modelled`);
    },
  } as unknown as SQSClient;
}

const SOURCE = 'https://sqs.local/000000000000/orders.fifo';
const DLQ = 'https://sqs.local/000000000000/orders-dlq.fifo';
const GROUP = 'account-7';

/** The consumer's parked groups, in memory: the group parked behind its dead letter. */
const parkedGroups = (generations: string[] = []) => {
  const parks = new Map<string, ParkedGroup>([[GROUP, { group: GROUP, parkedAt: new Date(0).toISOString(), reason: 'poison', diverted: 0, pending: {}, generations }]]);
  return {
    parks,
    list: async () => [...parks.values()],
    get: async (group: string) => parks.get(group),
  };
};

/**
 * A consumer on the source queue: every `everyMs` it finishes the message it holds (deletes it; a
 * release marker lifts its group's park; any other is applied: `applied`) and receives the next one.
 * `stop()` kills it.
 */
const startConsumer = (sqs: MemorySqs, parks: Map<string, ParkedGroup>, everyMs: number) => {
  let holding: Stored | undefined;
  const applied: Array<{ group: string; body: string; attributes: string[] }> = [];
  const timer = setInterval(() => {
    if (holding) {
      if (holding.attributes[RELEASE_ATTRIBUTE]) parks.delete(holding.group);
      else applied.push({ group: holding.group, body: holding.body, attributes: Object.keys(holding.attributes) });
      sqs.delete(SOURCE, holding.receipt);
    }
    [holding] = sqs.receive(SOURCE, 1, 600);
  }, everyMs);
  return { applied, stop: () => clearInterval(timer) };
};

/** Runs the redrive on fake time until it settles (or `limitMs` of fake time passed). */
const runRedrive = async (sqs: MemorySqs, parked: ReturnType<typeof parkedGroups>, limitMs: number) => {
  let outcome: { report: RedriveReport } | { error: Error } | undefined;
  const started = Date.now();
  void redrive({ sqs: sqs.client, deadLetterQueueUrl: DLQ, sourceQueueUrl: SOURCE, parkedGroups: parked, runId: 'run-1', visibilityTimeoutSeconds: 10 }).then(
    (report) => (outcome = { report }),
    (error: Error) => (outcome = { error }),
  );
  while (!outcome && Date.now() - started < limitMs) await vi.advanceTimersByTimeAsync(1_000);
  return { outcome, waitedSeconds: Math.round((Date.now() - started) / 1000) };
};

describe('redrive(): the wait for the release marker lasts as long as the consumer makes progress', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('waits out a consumer that drains a long backlog slowly (the marker is reached after 20 minutes, 4× the idle window)', async () => {
    // arrange: 600 messages of other groups ahead; the consumer handles one every 2 s; the poisoned group's 2 dead letters
    const sqs = new MemorySqs(SOURCE, DLQ);
    for (let i = 0; i < 600; i++) sqs.push(SOURCE, `other-${i % 50}`, `{"n":${i}}`);
    sqs.push(DLQ, GROUP, '{"poisoned":1}');
    sqs.push(DLQ, GROUP, '{"diverted":2}');
    const parked = parkedGroups();
    const consumer = startConsumer(sqs, parked.parks, 2_000);

    // act
    const { outcome, waitedSeconds } = await runRedrive(sqs, parked, 3 * 3_600_000);
    consumer.stop();

    // assert: released, after far longer than the default idle window of 300 s
    expect(outcome).toEqual({ report: { method: 'receive-send-delete', moved: 2, releasedGroups: [GROUP], stuckGroups: [] } });
    expect(waitedSeconds).toBeGreaterThan(1_200);
    expect(parked.parks.size).toBe(0);
  });

  it('waits while live traffic keeps the queue longer than ever, as long as the consumer is receiving', async () => {
    // arrange: 300 ahead; live messages for other groups arrive faster (1 per second) than the consumer handles them (1 per 2 s)
    const sqs = new MemorySqs(SOURCE, DLQ);
    for (let i = 0; i < 300; i++) sqs.push(SOURCE, `other-${i % 50}`, `{"n":${i}}`);
    sqs.push(DLQ, GROUP, '{"poisoned":1}');
    const parked = parkedGroups();
    const consumer = startConsumer(sqs, parked.parks, 2_000);
    let live = 0;
    const traffic = setInterval(() => sqs.push(SOURCE, `other-${live % 50}`, `{"live":${live++}}`), 1_000);

    // act
    const { outcome, waitedSeconds } = await runRedrive(sqs, parked, 3 * 3_600_000);
    clearInterval(traffic);
    consumer.stop();

    // assert: the queue only grew, yet the marker was reached and the park lifted
    expect(outcome).toEqual({ report: { method: 'receive-send-delete', moved: 1, releasedGroups: [GROUP], stuckGroups: [] } });
    expect(waitedSeconds).toBeGreaterThan(600);
    expect(sqs.queue(SOURCE).length).toBeGreaterThan(300);
  });

  it('waits for a message hidden elsewhere after a long drain: the wait for in-flight messages counts from the last one moved, not from the start', async () => {
    // arrange: 200 dead letters (each SQS call 150 ms: the drain takes ~90 s), and one more of another
    // group that another tool received and hides for 100 s (e.g. an operator's scan of the queue)
    const sqs = new MemorySqs(SOURCE, DLQ);
    for (let i = 0; i < 200; i++) sqs.push(DLQ, GROUP, `{"diverted":${i}}`);
    sqs.push(DLQ, 'account-9', '{"hidden":1}');
    sqs.queue(DLQ).at(-1)!.invisibleUntil = Date.now() + 100_000;
    sqs.latencyMs = 150;
    const parked = parkedGroups();
    const consumer = startConsumer(sqs, parked.parks, 100);

    // act
    const { outcome } = await runRedrive(sqs, parked, 3_600_000);
    consumer.stop();

    // assert: all 201 moved back (the hidden one once it reappeared), and the park lifted
    expect(outcome).toEqual({ report: { method: 'receive-send-delete', moved: 201, releasedGroups: [GROUP], stuckGroups: [] } });
  });

  it('finishes the drain around a group whose redriven message failed again: that group stays parked, its later messages held behind it in order', async () => {
    // arrange: the poisoned group's 10 dead letters; another group whose first dead letter is a message
    // this run sent back that failed again, with 5 more behind it (FIFO: unreachable while it is held)
    const sqs = new MemorySqs(SOURCE, DLQ);
    for (let i = 0; i < 10; i++) sqs.push(DLQ, GROUP, `{"diverted":${i}}`);
    sqs.push(DLQ, 'account-9', '{"failed":"again"}', { [REDRIVE_ATTRIBUTE]: { DataType: 'String', StringValue: 'run-1' }, [DEAD_LETTER_ATTRIBUTES.errorMessage]: { DataType: 'String', StringValue: 'PoisonMessageError: still bad' } });
    for (let i = 0; i < 5; i++) sqs.push(DLQ, 'account-9', `{"behind":${i}}`);
    const parked = parkedGroups();
    const consumer = startConsumer(sqs, parked.parks, 100);

    // act
    const { outcome } = await runRedrive(sqs, parked, 3_600_000);
    consumer.stop();

    // assert: the healthy group moved and released; the other left parked, its 6 messages still in the DLQ, in order
    expect(outcome).toEqual({ report: { method: 'receive-send-delete', moved: 10, releasedGroups: [GROUP], stuckGroups: [{ group: 'account-9', reason: 'PoisonMessageError: still bad' }] } });
    expect(sqs.queue(DLQ).map((m) => m.body)).toEqual(['{"failed":"again"}', ...Array.from({ length: 5 }, (_, i) => `{"behind":${i}}`)]);
  });

  it('gives up, saying why, when the consumer is not running: no message received, the queue no shorter', async () => {
    // arrange: nothing consumes the source queue
    const sqs = new MemorySqs(SOURCE, DLQ);
    for (let i = 0; i < 5; i++) sqs.push(SOURCE, `other-${i}`, `{"n":${i}}`);
    sqs.push(DLQ, GROUP, '{"poisoned":1}');
    const parked = parkedGroups();

    // act
    const { outcome, waitedSeconds } = await runRedrive(sqs, parked, 3 * 3_600_000);

    // assert: an error naming the cause, after the idle window (300 s) and not much later; the group stays parked
    expect(outcome && 'error' in outcome ? outcome.error.message : outcome).toMatch(/no progress towards the release marker of 1 group\(s\) for 300 s \(is the consumer running\?\).*run the redrive again/);
    expect(waitedSeconds).toBeGreaterThanOrEqual(300);
    expect(waitedSeconds).toBeLessThan(400);
    expect(parked.parks.has(GROUP)).toBe(true);
  });

  it('shows the held messages of a stuck group again when the run gives up, not only when it finishes', async () => {
    // arrange: a stuck group's message (sent back by this run, failed again); the operator stops the
    // run (Ctrl-C) as it starts waiting for the consumer
    const sqs = new MemorySqs(SOURCE, DLQ);
    sqs.push(DLQ, GROUP, '{"poisoned":1}');
    sqs.push(DLQ, 'account-9', '{"failed":"again"}', { [REDRIVE_ATTRIBUTE]: { DataType: 'String', StringValue: 'run-1' } });
    const controller = new AbortController();

    // act
    const error = await redrive({
      sqs: sqs.client, deadLetterQueueUrl: DLQ, sourceQueueUrl: SOURCE, parkedGroups: parkedGroups(), runId: 'run-1', visibilityTimeoutSeconds: 10, signal: controller.signal,
      onProgress: ({ step }) => step.startsWith('waiting for the consumer') && controller.abort(),
    }).catch((e: unknown) => e);

    // assert: interrupted, and the held message can be received at once (not only after its 10 s visibility)
    expect(error).toBeInstanceOf(RedriveInterruptedError);
    expect(sqs.receive(DLQ, 10, 30).map((m) => m.body)).toEqual(['{"failed":"again"}']);
  });

  it('gives up when the consumer stops half-way, an idle window after its last progress', async () => {
    // arrange: the consumer handles 100 of 600 messages ahead, then dies (its last message comes back after the visibility timeout)
    const sqs = new MemorySqs(SOURCE, DLQ);
    for (let i = 0; i < 600; i++) sqs.push(SOURCE, `other-${i % 50}`, `{"n":${i}}`);
    sqs.push(DLQ, GROUP, '{"poisoned":1}');
    const parked = parkedGroups();
    const consumer = startConsumer(sqs, parked.parks, 2_000);
    setTimeout(() => consumer.stop(), 200_000);

    // act
    const { outcome, waitedSeconds } = await runRedrive(sqs, parked, 3 * 3_600_000);

    // assert: its last received message stays in flight for 600 s, then nothing moves for 300 s
    expect(outcome && 'error' in outcome ? outcome.error.message : outcome).toMatch(/no progress towards the release marker/);
    expect(waitedSeconds).toBeGreaterThan(200 + 300);
    expect(waitedSeconds).toBeLessThan(200 + 600 + 300 + 60);
  });
});

describe('redrive(): a group’s order across runs whose redriven message failed again', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('sends the DLQ groups of runs whose redriven message failed again first, newest run first, then the group’s own', async () => {
    // arrange: run-0's redriven f1 failed again: f1–f4 went to run-0's DLQ group, while l5 and l6, live
    // and queued ahead of them, were diverted to the group's own; run-1 sent f1, f2 back, and f1 failed
    // again (run-1's DLQ group: f1, f2); f3, f4 stayed in run-0's. The group's own comes first in the
    // DLQ, the newest run's last: the hostile order.
    const sqs = new MemorySqs(SOURCE, DLQ);
    const inRun = (run: string) => ({ [REDRIVE_ATTRIBUTE]: { DataType: 'String', StringValue: run }, [PARKED_GROUP_ATTRIBUTE]: { DataType: 'String', StringValue: GROUP } });
    for (const n of [5, 6]) sqs.push(DLQ, GROUP, `l${n}`);
    for (const n of [3, 4]) sqs.push(DLQ, generationGroup(GROUP, 'run-0'), `f${n}`, inRun('run-0'));
    for (const n of [1, 2]) sqs.push(DLQ, generationGroup(GROUP, 'run-9'), `f${n}`, inRun('run-9'));
    const parked = parkedGroups(['run-0', 'run-9']);
    const consumer = startConsumer(sqs, parked.parks, 100);

    // act
    const { outcome } = await runRedrive(sqs, parked, 3_600_000);
    consumer.stop();

    // assert: applied in the group's order, all in the group itself, without the DLQ's attributes but the run's mark
    expect(outcome).toEqual({ report: { method: 'receive-send-delete', moved: 6, releasedGroups: [GROUP], stuckGroups: [] } });
    expect(consumer.applied.map((m) => m.body)).toEqual(['f1', 'f2', 'f3', 'f4', 'l5', 'l6']);
    expect(consumer.applied.every((m) => m.group === GROUP && m.attributes.join() === REDRIVE_ATTRIBUTE)).toBe(true);
    expect(sqs.queue(DLQ)).toEqual([]);
  });
});
