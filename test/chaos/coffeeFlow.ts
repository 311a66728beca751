import { DynamoDBClient, GetItemCommand, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, SendMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import * as z from 'zod';
import { BREW_FINISHED, BREW_STARTED, queueKey, ticketKey } from '../../functions/coffee/barista/ticket';
import { BOARD_STATUSES, type BoardStatus } from '../../functions/coffee/board/board';
import { ORDER_SERVED, pickupKey, servedKey } from '../../functions/coffee/counter/pickup';
import { ORDER_CANCELLED } from '../../functions/coffee/orders/cancelOrder';
import { ORDER_PLACED, orderKey } from '../../functions/coffee/orders/placeOrder';
import { ParkedGroups } from '../../functions/toolkit/consumer/ParkedGroups';
import { DEAD_LETTER_ATTRIBUTES } from '../../functions/toolkit/consumer/MessageDeadLetters';
import { buildEvent, newEventId, newTraceparent } from '../../functions/toolkit/envelope';
import { outboxSortKey } from '../../functions/toolkit/outbox/outboxItem';
import { toRow } from '../../functions/toolkit/projection/projectionItem';
import { peekMessages, redrive } from '../../functions/toolkit/redrive';
import { DEFAULT_STAGE, localApiUrl } from '../../localstack/endpoints';
import { CoffeeClient, shopActors, type ApiAnswer } from '../../scripts/demo/coffeeClient';
import { userDirectoryOf, UserDirectoryClient } from '../../scripts/demo/identities';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import type { Flow, FlowContext, InvariantResult } from './flow';
import { discardPoison } from './discardPoison';
import { poisonMarker } from './poison';
import { SettleTracker } from '../../functions/toolkit/progress/SettleTracker';

/**
 * The coffee shop under load and faults. `drive` runs `keys` lanes at once; each lane is a customer
 * and the staff taking orders one after another through place → start → finish → serve (4 events),
 * every tenth order cancelled instead (2 events); staff retry 5xx/404/"not ready" answers as a person
 * would, within a bound. Poison goes straight to the barista's FIFO queue (in real order groups, then
 * the order is cancelled so a real event queues up behind it) and to the board's queue.
 *
 * `check` reads back what the consumers themselves recorded: the services' outboxes (the logs: what
 * was committed), the board's rows (per-source watermarks and revision), the barista's queue items and
 * Powertools idempotency records (event id applied, and when), the counter's pickup items, and the
 * dead-letter queues (with their reason attributes).
 */

const FLOW = 'coffee';

const OutputsSchema = z.object({
  ApiId: z.string().min(1),
  UserPoolId: z.string().min(1),
  UserPoolClientId: z.string().min(1),
  OrdersTableName: z.string().min(1),
  BaristaTableName: z.string().min(1),
  CounterTableName: z.string().min(1),
  ProbeTableName: z.string().min(1),
  BoardTableName: z.string().min(1),
  BoardQueueUrl: z.url(),
  BoardDeadLetterQueueUrl: z.url(),
  BaristaQueueUrl: z.url(),
  BaristaDeadLetterQueueUrl: z.url(),
  BaristaIdempotencyTableName: z.string().min(1),
  CounterPickupsQueueUrl: z.url(),
  CounterPickupsDeadLetterQueueUrl: z.url(),
  OrdersBrewStartedQueueUrl: z.url(),
  OrdersBrewStartedDeadLetterQueueUrl: z.url(),
  OrdersRelayDeadLetterQueueUrl: z.url(),
  BaristaRelayDeadLetterQueueUrl: z.url(),
  CounterRelayDeadLetterQueueUrl: z.url(),
  OrdersApiFunctionName: z.string().min(1),
  OrdersRelayFunctionName: z.string().min(1),
  OrdersBrewStartedFunctionName: z.string().min(1),
  BaristaApiFunctionName: z.string().min(1),
  BaristaRelayFunctionName: z.string().min(1),
  BaristaQueueFunctionName: z.string().min(1),
  CounterApiFunctionName: z.string().min(1),
  CounterRelayFunctionName: z.string().min(1),
  CounterPickupsFunctionName: z.string().min(1),
  BoardProjectionFunctionName: z.string().min(1),
  QueriesFunctionName: z.string().min(1),
});
type Outputs = z.infer<typeof OutputsSchema>;

/** The CoffeeShop stack's outputs: `CoffeeShop.<name>` where the harness qualifies them (names repeat across stacks), else `<name>`. */
function outputsOf(ctx: FlowContext): Outputs {
  const own = Object.fromEntries(Object.keys(OutputsSchema.shape).map((name) => [name, ctx.outputs[`CoffeeShop.${name}`] ?? ctx.outputs[name]]));
  const parsed = OutputsSchema.safeParse(own);
  if (!parsed.success) throw new Error(`the CoffeeShop stack's outputs are missing or bad: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`);
  return parsed.data;
}

/** A command's outcome as the staff member saw it. `uncertain`: only 5xx/timeouts, the effect may or may not exist. */
type Outcome = 'committed' | 'rejected' | 'uncertain';
type Step = 'placed' | 'started' | 'finished' | 'served' | 'cancelled';

interface OrderRecord {
  readonly orderId: string;
  readonly committed: Set<Step>;
  readonly uncertain: Set<Step>;
  /** A poison message was sent into this order's barista FIFO group before it was cancelled. */
  poisonGroup: boolean;
}

interface PoisonRecord {
  readonly marker: string;
  readonly queue: 'barista' | 'board';
  readonly orderId: string;
  /** Deleted from its DLQ after a check (the operator's last step): later checks skip it. */
  discarded?: boolean;
}

/** Every poison body this flow writes carries this field (also a run's that was interrupted). */
const POISON_FIELD = 'chaosPoison';

/** The coffee flow's poison (also an interrupted run's). */
const isCoffeePoison = (body: string) => body.includes(`"${POISON_FIELD}"`);

export interface CoffeeFlowOptions {
  /** Longest wait for the system to settle before checking, progress or not. @default 30 min */
  readonly settleTimeoutMs?: number;
  /**
   * Longest wait without progress (queues shrinking, board revisions growing) before checking anyway:
   * longer than the consumer queues' visibility timeouts (a failed message may stay hidden that long).
   * @default the longest visibility timeout + 30 s
   */
  readonly settleIdleMs?: number;
  /** Longest a staff member keeps retrying one command. @default 90 s */
  readonly commandTimeoutMs?: number;
  /** Every n-th order of a lane is cancelled instead of brewed. @default 10 */
  readonly cancelEvery?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Errors that say the command's effect already exists (a retry after a lost answer). */
const ALREADY: Record<Step, (answer: ApiAnswer) => boolean> = {
  // A retried order (same id, same request) is answered 201 as the first time: never an error.
  placed: () => false,
  started: (a) => a.body.error === 'AlreadyStarted',
  finished: (a) => a.body.error === 'AlreadyFinished',
  served: (a) => a.body.error === 'AlreadyServed',
  cancelled: (a) => a.body.error === 'OrderNotCancellable' && /already cancelled/.test(a.body.message ?? ''),
};

/** Answers a person retries: the service has not heard of the order yet, a lost race, or a fault. */
const retryable = (a: ApiAnswer) => a.status === 404 || a.status === 429 || a.status >= 500 || a.body.error === 'NotReady' || (a.status === 409 && /changed meanwhile/.test(a.body.message ?? ''));

const SOURCES = { orders: 'coffee.orders', barista: 'coffee.barista', counter: 'coffee.counter', probe: 'coffee.probe' } as const;
type Source = (typeof SOURCES)[keyof typeof SOURCES];
const STEP_EVENT: Record<Step, { type: string; source: Source }> = {
  placed: { type: ORDER_PLACED, source: SOURCES.orders },
  cancelled: { type: ORDER_CANCELLED, source: SOURCES.orders },
  started: { type: BREW_STARTED, source: SOURCES.barista },
  finished: { type: BREW_FINISHED, source: SOURCES.barista },
  served: { type: ORDER_SERVED, source: SOURCES.counter },
};

const LoggedEventSchema = z.object({ pk: z.string(), kind: z.literal('outbox-event'), id: z.string(), type: z.string(), subject: z.string(), sequence: z.number().int().positive(), envelope: z.string() });
type LoggedEvent = z.infer<typeof LoggedEventSchema> & { readonly source: Source };
/** The barista's inbox item of an applied event: written in the same transaction as its effect. */
const InboxItemSchema = z.object({ id: z.string().startsWith('inbox#'), appliedAt: z.iso.datetime() });
const QueueItemSchema = z.object({ placedAt: z.string().optional(), cancelledAt: z.string().optional() });
const PickupItemSchema = z.object({ readyAt: z.string().optional(), cancelledAt: z.string().optional() });
const VersionedSchema = z.object({ version: z.number().int() });
const BoardStateSchema = z.object({
  orderId: z.string(),
  status: z.enum(BOARD_STATUSES),
  placedAt: z.string().optional(),
  brewingAt: z.string().optional(),
  readyAt: z.string().optional(),
  servedAt: z.string().optional(),
  cancelledAt: z.string().optional(),
}).passthrough();

/** Collects violations per invariant, keeping a few offending keys for the detail. */
class Tally {
  checked = 0;
  violations = 0;
  private readonly samples: string[] = [];
  constructor(readonly invariant: string) {}
  ok(): void {
    this.checked++;
  }
  fail(what: string): void {
    this.checked++;
    this.violations++;
    if (this.samples.length < 5) this.samples.push(what);
  }
  expect(condition: boolean, what: string): void {
    if (condition) this.ok();
    else this.fail(what);
  }
  result(extra?: string): InvariantResult {
    const detail = [this.samples.join('; '), extra].filter(Boolean).join(' | ');
    return { flow: FLOW, invariant: this.invariant, checked: this.checked, violations: this.violations, ...(detail ? { detail } : {}) };
  }
}

export function createCoffeeFlow(options: CoffeeFlowOptions = {}): Flow & { readonly runId: string } {
  const runId = `chaos-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  const orders = new Map<string, OrderRecord>();
  const poison: PoisonRecord[] = [];
  /** Poison numbers handed out (each send takes one before it awaits anything). */
  let poisonNumbers = 0;
  const commandTimeoutMs = options.commandTimeoutMs ?? 90_000;
  const cancelEvery = options.cancelEvery ?? 10;

  const clients = (ctx: FlowContext) => ({ ddb: new DynamoDBClient({ endpoint: ctx.endpoint }), sqs: new SQSClient({ endpoint: ctx.endpoint }) });

  /** One staff command, retried as a person would; a 409 "already …" means an earlier attempt took effect. */
  async function command(step: Step, call: () => Promise<ApiAnswer>): Promise<Outcome> {
    const deadline = Date.now() + commandTimeoutMs;
    let faults = 0;
    for (let attempt = 1; ; attempt++) {
      const answer: ApiAnswer = await call().catch((error: unknown) => ({ status: 599, body: { error: 'NetworkError', message: String(error) } }));
      if (answer.status >= 200 && answer.status < 300) return 'committed';
      if (ALREADY[step](answer)) return 'committed';
      if (!retryable(answer)) return 'rejected';
      if (answer.status >= 500) faults++;
      if (Date.now() > deadline) return faults > 0 ? 'uncertain' : 'rejected';
      await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random() / 2));
    }
  }

  async function sendPoison(sqs: SQSClient, out: Outputs, queue: PoisonRecord['queue'], orderId: string): Promise<void> {
    // Its number is taken before any await: lanes poison at the same moment, and two sends with one
    // number would share a deduplication id (FIFO deduplication is per queue): the second one dropped.
    const n = poisonNumbers++;
    // Delimited (chaos-poison[<run>#<n>]): marker 1 must not be found inside marker 10.
    const marker = poisonMarker(runId, n);
    const malformed = n % 2 === 0;
    // Schema-invalid: a well-formed envelope of a handled type whose data lacks the required fields.
    const invalid = () => buildEvent({ id: newEventId(), source: SOURCES.orders, type: ORDER_PLACED, subject: orderId, sequence: 1, time: new Date(), traceparent: newTraceparent(), data: { orderId, [POISON_FIELD]: marker } });
    const body = malformed
      ? `{"${POISON_FIELD}":"${marker}","orderId":"${orderId}",` // cut off: not JSON
      : queue === 'board'
        ? JSON.stringify({ version: '0', id: newEventId(), 'detail-type': ORDER_PLACED, source: SOURCES.orders, detail: invalid() })
        : JSON.stringify(invalid());
    const fifo = queue === 'barista' ? { MessageGroupId: orderId, MessageDeduplicationId: `${runId}-poison-${n}` } : {};
    await sqs.send(new SendMessageCommand({ QueueUrl: queue === 'barista' ? out.BaristaQueueUrl : out.BoardQueueUrl, MessageBody: body, ...fifo }));
    poison.push({ marker, queue, orderId });
  }

  /** Waits (bounded) until the barista's ordered consumer has queued the order. */
  async function baristaQueued(ddb: DynamoDBClient, out: Outputs, orderId: string): Promise<boolean> {
    const deadline = Date.now() + commandTimeoutMs;
    while (Date.now() < deadline) {
      const got = await ddb.send(new GetItemCommand({ TableName: out.BaristaTableName, Key: marshall(queueKey(orderId)), ConsistentRead: true })).catch(() => undefined);
      if (got?.Item && unmarshall(got.Item).placedAt !== undefined) return true;
      await sleep(250);
    }
    return false;
  }

  return {
    name: FLOW,
    runId,

    functions(ctx) {
      const out = outputsOf(ctx);
      return [
        out.OrdersApiFunctionName,
        out.BaristaApiFunctionName,
        out.CounterApiFunctionName,
        out.QueriesFunctionName,
        out.OrdersRelayFunctionName,
        out.BaristaRelayFunctionName,
        out.CounterRelayFunctionName,
        out.BaristaQueueFunctionName,
        out.BoardProjectionFunctionName,
        out.CounterPickupsFunctionName,
        out.OrdersBrewStartedFunctionName,
      ];
    },

    async drive(ctx, { events, keys, poison: poisonCount, onProgress }) {
      const out = outputsOf(ctx);
      const { ddb, sqs } = clients(ctx);
      // The actors sign in to the shop's user pool directly (their sign-in is not what the faults test).
      const users = new UserDirectoryClient(userDirectoryOf(out), new CognitoIdentityProviderClient({ endpoint: ctx.endpoint }));
      const shop = new CoffeeClient(localApiUrl(out.ApiId, DEFAULT_STAGE, ctx.endpoint), await shopActors(users, 'chaos-customer'));
      const baristaPoison = Math.min(keys, Math.ceil(poisonCount / 2));
      let reserved = 0;
      let submitted = 0;
      const commit = (record: OrderRecord, step: Step, outcome: Outcome) => {
        if (outcome === 'committed') {
          record.committed.add(step);
          onProgress(++submitted);
        } else if (outcome === 'uncertain') record.uncertain.add(step);
        return outcome === 'committed';
      };

      async function lane(index: number): Promise<void> {
        let failedInARow = 0;
        for (let n = 0; reserved < events; n++) {
          if (failedInARow >= 5) {
            ctx.log(`coffee: lane ${index} gave up after 5 orders in a row with nothing committed`);
            return;
          }
          const orderId = `${runId}-k${index}-${n}`;
          const poisoned = n === 0 && index < baristaPoison;
          const cancel = poisoned || n % cancelEvery === cancelEvery - 1;
          const cost = cancel ? 2 : 4;
          reserved += cost;
          const record: OrderRecord = { orderId, committed: new Set(), uncertain: new Set(), poisonGroup: false };
          orders.set(orderId, record);
          try {
            await order(record, n, index, cancel, poisoned);
          } finally {
            // Only committed events count towards the total: what a refused or abandoned order did not commit is driven again.
            reserved -= cost - record.committed.size;
            failedInARow = record.committed.size === 0 ? failedInARow + 1 : 0;
          }
        }
      }

      async function order(record: OrderRecord, n: number, index: number, cancel: boolean, poisoned: boolean): Promise<void> {
        const { orderId } = record;
        // Every third order has a customer (made up), so the privacy path (KMS) is exercised too.
        const customer = n % 3 === 0 ? { customer: { customerId: `${runId}-c${index}`, name: `Chaos Customer ${index}` } } : {};
        const placed = await command('placed', () => shop.placeOrder({ orderId, lines: [{ product: 'latte', size: 'small' }], ...customer }));
        if (!commit(record, 'placed', placed)) return;
        if (cancel) {
          if (poisoned) {
            // The poison goes into the order's own FIFO group once the barista has queued it; the
            // cancellation then queues up behind it (parked group → diverted to the DLQ).
            await baristaQueued(ddb, out, orderId);
            await sendPoison(sqs, out, 'barista', orderId);
            record.poisonGroup = true;
          }
          commit(record, 'cancelled', await command('cancelled', () => shop.cancel(orderId)));
          return;
        }
        if (!commit(record, 'started', await command('started', () => shop.startBrew(orderId)))) return;
        if (!commit(record, 'finished', await command('finished', () => shop.finishBrew(orderId)))) return;
        commit(record, 'served', await command('served', () => shop.serve(orderId)));
      }

      await Promise.all(Array.from({ length: keys }, (_, index) => lane(index)));
      const placedIds = [...orders.values()].filter((o) => o.committed.has('placed')).map((o) => o.orderId);
      for (let i = poison.length; i < poisonCount; i++) await sendPoison(sqs, out, 'board', placedIds[i % Math.max(1, placedIds.length)] ?? `${runId}-none`);
      ctx.log(`coffee: run ${runId}: ${orders.size} orders, ${submitted} events committed, ${poison.length} poison sent`);
    },

    async check(ctx) {
      const out = outputsOf(ctx);
      const { ddb, sqs } = clients(ctx);
      const deadLetterQueues = {
        barista: out.BaristaDeadLetterQueueUrl,
        board: out.BoardDeadLetterQueueUrl,
        counter: out.CounterPickupsDeadLetterQueueUrl,
        brewStarted: out.OrdersBrewStartedDeadLetterQueueUrl,
        ordersRelay: out.OrdersRelayDeadLetterQueueUrl,
        baristaRelay: out.BaristaRelayDeadLetterQueueUrl,
        counterRelay: out.CounterRelayDeadLetterQueueUrl,
      } as const;
      type Dlq = keyof typeof deadLetterQueues;

      async function scan(tableName: string, filter?: { expression: string; values: Record<string, AttributeValue> }): Promise<Record<string, unknown>[]> {
        const items: Record<string, unknown>[] = [];
        let start: Record<string, AttributeValue> | undefined;
        do {
          const page = await ddb.send(
            new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: start, ...(filter ? { FilterExpression: filter.expression, ExpressionAttributeValues: filter.values } : {}) }),
          );
          items.push(...(page.Items ?? []).map((item) => unmarshall(item)));
          start = page.LastEvaluatedKey;
        } while (start);
        return items;
      }
      const ofRun = (tableName: string) => scan(tableName, { expression: 'contains(pk, :run)', values: { ':run': { S: runId } } });
      const depth = async (url: string) => {
        const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] }));
        return Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) + Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0);
      };

      /**
       * Settled: the consumers' queues are empty and the run's board rows have not changed for a
       * while. Waits as long as the queues shrink or the board moves on (a backlog is slow, not
       * wrong); checks anyway after no progress for the idle window, or at the cap.
       */
      async function settle(what: string): Promise<void> {
        const queues = [out.BaristaQueueUrl, out.BoardQueueUrl, out.CounterPickupsQueueUrl, out.OrdersBrewStartedQueueUrl];
        const visibility = await Promise.all(queues.map(async (QueueUrl) => Number((await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['VisibilityTimeout'] }))).Attributes?.VisibilityTimeout ?? 30)));
        const tracker = new SettleTracker({ idleMs: options.settleIdleMs ?? (Math.max(...visibility) + 30) * 1000, capMs: options.settleTimeoutMs ?? 30 * 60_000 });
        let last = '';
        let stable = 0;
        let revisions = -1;
        for (;;) {
          const depths = await Promise.all(queues.map(depth));
          const rows = await ofRun(out.BoardTableName);
          const revisionSum = rows.reduce((sum, row) => sum + Number(row.revision ?? 0), 0);
          const fingerprint = `${rows.length}:${revisionSum}:${depths.join(',')}`;
          stable = fingerprint === last && depths.every((d) => d === 0) ? stable + 1 : 0;
          last = fingerprint;
          if (stable >= 4) return;
          const verdict = tracker.observe({ queued: depths.reduce((a, b) => a + b, 0) }, revisions >= 0 && revisionSum > revisions);
          revisions = Math.max(revisions, revisionSum);
          if (verdict === 'stalled' || verdict === 'capped') {
            ctx.log(`coffee: not settled ${what} (${verdict} after ${tracker.elapsedSeconds()} s; last: ${last}); checking anyway`);
            return;
          }
          await sleep(1500);
        }
      }

      /** Every message of the DLQs (bodies and attributes), read without consuming them. */
      async function dlqContents(): Promise<Record<Dlq, Message[]>> {
        const entries = await Promise.all(Object.entries(deadLetterQueues).map(async ([name, url]) => [name, await peekMessages(sqs, url, 5000)] as const));
        return Object.fromEntries(entries) as Record<Dlq, Message[]>;
      }
      const hasReason = (m: Message) =>
        (m.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.errorName]?.StringValue ?? '') !== '' &&
        ((m.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.errorMessage]?.StringValue ?? m.MessageAttributes?.reason?.StringValue ?? '') !== '');
      const findIn = (messages: readonly Message[], needle: string) => messages.find((m) => (m.Body ?? '').includes(needle));

      await settle('after the drive');

      // (4) poison: every marker in its DLQ, with a reason, before anything is redriven.
      const poisonTally = new Tally('poison messages in DLQs with a reason');
      const before = await dlqContents();
      const live = poison.filter((p) => !p.discarded);
      for (const p of live) {
        const found = findIn(before[p.queue], p.marker);
        poisonTally.expect(found !== undefined && hasReason(found), `${p.marker} (${p.queue}) ${found ? 'has no reason attribute' : 'not in its DLQ'}`);
      }
      const divertedBefore = new Map<string, boolean>();
      for (const p of live.filter((p) => p.queue === 'barista')) {
        const queued = await ddb.send(new GetItemCommand({ TableName: out.BaristaTableName, Key: marshall(queueKey(p.orderId)), ConsistentRead: true }));
        // Held: the cancellation is not applied. Also when the placed event itself is not (it reached the
        // group after the poison, e.g. when its relay was slowed by faults, and was diverted behind it).
        divertedBefore.set(p.orderId, queued.Item === undefined || unmarshall(queued.Item).cancelledAt === undefined);
      }

      // Redrive every consumer DLQ (the relay DLQs hold stream records: those are replayed, not redriven).
      const redriveRun = `${runId}-redrive-${Date.now().toString(36)}`;
      const redriven: string[] = [];
      for (const [dlq, source, parked] of [
        [out.BaristaDeadLetterQueueUrl, out.BaristaQueueUrl, new ParkedGroups(ddb, out.BaristaIdempotencyTableName)],
        [out.BoardDeadLetterQueueUrl, out.BoardQueueUrl, undefined],
        [out.CounterPickupsDeadLetterQueueUrl, out.CounterPickupsQueueUrl, undefined],
        [out.OrdersBrewStartedDeadLetterQueueUrl, out.OrdersBrewStartedQueueUrl, undefined],
      ] as const) {
        if ((await depth(dlq)) === 0) continue;
        const report = await redrive({ sqs, deadLetterQueueUrl: dlq, sourceQueueUrl: source, runId: redriveRun, visibilityTimeoutSeconds: 10, ...(parked ? { parkedGroups: parked } : {}) });
        redriven.push(`${report.moved} from ${dlq.split('/').pop()}`);
      }
      ctx.log(`coffee: redrove ${redriven.join(', ') || 'nothing'}`);
      await settle('after the redrive');
      // The redriven poison fails again and returns to its DLQ (poison stays poison): wait for it, bounded.
      const returnDeadline = Date.now() + 90_000;
      let after = await dlqContents();
      while (Date.now() < returnDeadline && live.some((p) => findIn(after[p.queue], p.marker) === undefined)) {
        await sleep(1000);
        after = await dlqContents();
      }
      /** Which poison came back to its DLQ with a reason, before the operator discards it. */
      const returned = new Map(live.map((p) => [p.marker, findIn(after[p.queue], p.marker)]));

      // The operator reads the reasons and discards the poison. The barista's poisoned groups stay
      // parked (their redriven poison failed again), each cancellation held behind its poison: a
      // second redrive sends them back, in order.
      const discarded = (await discardPoison(sqs, out.BaristaDeadLetterQueueUrl, isCoffeePoison)).length + (await discardPoison(sqs, out.BoardDeadLetterQueueUrl, isCoffeePoison)).length;
      for (const p of live) p.discarded = true;
      ctx.log(`coffee: discarded ${discarded} poison message(s) from the DLQs after checking them`);
      if ((await depth(out.BaristaDeadLetterQueueUrl)) > 0) {
        const report = await redrive({ sqs, deadLetterQueueUrl: out.BaristaDeadLetterQueueUrl, sourceQueueUrl: out.BaristaQueueUrl, parkedGroups: new ParkedGroups(ddb, out.BaristaIdempotencyTableName), runId: `${redriveRun}-2`, visibilityTimeoutSeconds: 10 });
        redriven.push(`${report.moved} from ${out.BaristaDeadLetterQueueUrl.split('/').pop()} again once the poison was discarded`);
        ctx.log(`coffee: redrove ${report.moved} again once the poison was discarded (released ${report.releasedGroups.length} groups, stuck ${report.stuckGroups.length})`);
        await settle('after the second redrive');
        after = await dlqContents();
      }

      // The consumers' own records.
      const [ordersItems, baristaItems, counterItems, probeItems, boardItems, baristaRecords] = await Promise.all([
        ofRun(out.OrdersTableName),
        ofRun(out.BaristaTableName),
        ofRun(out.CounterTableName),
        ofRun(out.ProbeTableName),
        ofRun(out.BoardTableName),
        scan(out.BaristaIdempotencyTableName, { expression: 'begins_with(id, :inbox)', values: { ':inbox': { S: 'inbox#' } } }),
      ]);
      const byPk = (items: Record<string, unknown>[]) => new Map(items.filter((i) => i.kind !== 'outbox-event').map((i) => [String(i.pk), i]));
      const aggregates = { orders: byPk(ordersItems), barista: byPk(baristaItems), counter: byPk(counterItems) };
      const logOf = new Map<string, LoggedEvent[]>();
      for (const [items, source] of [[ordersItems, SOURCES.orders], [baristaItems, SOURCES.barista], [counterItems, SOURCES.counter], [probeItems, SOURCES.probe]] as const) {
        for (const item of items) {
          const parsed = LoggedEventSchema.safeParse(item);
          if (!parsed.success) continue;
          const orderId = parsed.data.pk.replace(/^OUTBOX#/, '');
          logOf.set(orderId, [...(logOf.get(orderId) ?? []), { ...parsed.data, source }]);
        }
      }
      const board = new Map<string, { revision: number; watermarks: Record<string, number>; state: z.infer<typeof BoardStateSchema> }>();
      const badRows: string[] = [];
      for (const item of boardItems) {
        try {
          const row = toRow<unknown>(item);
          board.set(row.key, { revision: row.revision, watermarks: row.watermarks, state: BoardStateSchema.parse(row.state) });
        } catch (error) {
          badRows.push(`${String(item.pk)}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      /** Events the barista's queue applied (event id → when): its inbox items, one per event, written with the effect. */
      const applied = new Map<string, { at: number }>();
      for (const item of baristaRecords) {
        const record = InboxItemSchema.safeParse(item);
        if (record.success) applied.set(record.data.id.slice('inbox#'.length), { at: Date.parse(record.data.appliedAt) });
      }
      /** Where an event sits in a DLQ with a reason, if it does: by event id (consumers) or outbox sort key (relays). */
      const parkedIn = (event: LoggedEvent, dlqs: readonly Dlq[]): Dlq | undefined =>
        dlqs.find((dlq) => {
          const m = findIn(after[dlq], event.id) ?? (dlq.endsWith('Relay') ? findIn(after[dlq], outboxSortKey(event.subject, event.sequence)) : undefined);
          return m !== undefined && hasReason(m);
        });
      const relayDlq = (source: Source): Dlq[] => (source === SOURCES.orders ? ['ordersRelay'] : source === SOURCES.barista ? ['baristaRelay'] : source === SOURCES.counter ? ['counterRelay'] : []);

      const lost = new Tally('0 events lost (effect, or in a DLQ with a reason)');
      const twice = new Tally('0 effects applied twice');
      const order = new Tally('0 per-key order violations (barista ordered path)');
      const redriveTally = new Tally('redriven ordered groups complete in order');
      for (const bad of badRows) lost.fail(`unreadable board row ${bad}`);

      for (const record of orders.values()) {
        const { orderId } = record;
        const log = logOf.get(orderId) ?? [];
        const row = board.get(orderId);
        const bySource = (source: Source) => log.filter((e) => e.source === source).sort((a, b) => a.sequence - b.sequence);
        const ofType = (type: string) => log.find((e) => e.type === type);

        // (1) Lost: every acknowledged command is in its service's log …
        for (const step of record.committed) {
          const expected = STEP_EVENT[step];
          lost.expect(log.some((e) => e.type === expected.type && e.source === expected.source), `${orderId}: ${step} acknowledged but not in the ${expected.source} log`);
        }
        // … every logged event is on the board (or in a DLQ with a reason) …
        for (const event of log) {
          const onBoard = (row?.watermarks[event.source] ?? 0) >= event.sequence;
          lost.expect(onBoard || parkedIn(event, ['board', ...relayDlq(event.source)]) !== undefined, `${orderId}: ${event.type}#${event.sequence} not on the board`);
        }
        // … every orders event reached the barista's queue (inbox item + fact), and the counter knows what it needs.
        const queueItem = QueueItemSchema.safeParse(aggregates.barista.get(queueKey(orderId).pk) ?? {});
        const pickup = PickupItemSchema.safeParse(aggregates.counter.get(pickupKey(orderId).pk) ?? {});
        for (const event of bySource(SOURCES.orders)) {
          const excused = parkedIn(event, ['barista', 'ordersRelay']);
          const fact = event.type === ORDER_PLACED ? queueItem.data?.placedAt : queueItem.data?.cancelledAt;
          lost.expect((applied.has(event.id) && fact !== undefined) || excused !== undefined, `${orderId}: ${event.type} not applied by the barista`);
          if (event.type === ORDER_CANCELLED) lost.expect(pickup.data?.cancelledAt !== undefined || parkedIn(event, ['counter', 'ordersRelay']) !== undefined, `${orderId}: cancellation unknown at the counter`);
        }
        const finished = ofType(BREW_FINISHED);
        if (finished) lost.expect(pickup.data?.readyAt !== undefined || parkedIn(finished, ['counter', 'baristaRelay']) !== undefined, `${orderId}: finished drink unknown at the counter`);
        // … and the board shows the status the commands imply.
        const implied: BoardStatus = ofType(ORDER_CANCELLED) ? 'cancelled' : ofType(ORDER_SERVED) ? 'served' : finished ? 'ready' : ofType(BREW_STARTED) ? 'brewing' : 'queued';
        if (log.length > 0) {
          const excused = log.some((e) => parkedIn(e, ['board', ...relayDlq(e.source)]) !== undefined);
          lost.expect(row?.state.status === implied || excused, `${orderId}: board shows ${row?.state.status ?? 'nothing'}, commands imply ${implied}`);
        }

        // (2) Twice: the board's revision counts each logged event once; each writer committed each step once.
        if (row) {
          const watermarkSum = Object.values(row.watermarks).reduce((sum, w) => sum + w, 0);
          twice.expect(row.revision <= log.length && row.revision === watermarkSum, `${orderId}: board revision ${row.revision}, watermarks ${watermarkSum}, logged events ${log.length}`);
          for (const [source, watermark] of Object.entries(row.watermarks)) {
            twice.expect(watermark <= bySource(source as Source).length, `${orderId}: board watermark ${source}=${watermark} beyond its log`);
          }
        }
        for (const [source, key, items] of [
          [SOURCES.orders, orderKey(orderId).pk, aggregates.orders],
          [SOURCES.barista, ticketKey(orderId).pk, aggregates.barista],
          [SOURCES.counter, servedKey(orderId).pk, aggregates.counter],
        ] as const) {
          const events = bySource(source);
          const version = VersionedSchema.safeParse(items.get(key) ?? { version: 0 });
          const contiguous = events.every((e, i) => e.sequence === i + 1) && new Set(events.map((e) => e.type)).size === events.length;
          twice.expect(version.success && version.data.version === events.length && contiguous, `${orderId}: ${source} version ${version.data?.version ?? '?'} vs ${events.length} logged (${events.map((e) => e.type).join(',')})`);
        }

        // (3) Order on the barista's FIFO path: placed applied before (or in the same batch as) cancelled,
        // and the queue's first fact is the placed event's own; the board's stage times follow the domain's order.
        const placed = ofType(ORDER_PLACED);
        const cancelled = ofType(ORDER_CANCELLED);
        if (placed && queueItem.data?.placedAt !== undefined) {
          const placedData = z.object({ data: z.object({ placedAt: z.string() }) }).safeParse(JSON.parse(placed.envelope));
          order.expect(placedData.success && placedData.data.data.placedAt === queueItem.data.placedAt, `${orderId}: barista's placedAt is not the placed event's`);
        }
        if (placed && cancelled && applied.has(placed.id) && applied.has(cancelled.id)) {
          const lead = applied.get(placed.id)!.at - applied.get(cancelled.id)!.at;
          order.expect(lead <= 0, `${orderId}: cancelled applied by the barista ${lead} ms before placed`);
        }
        if (row) {
          const s = row.state;
          const chain = [s.placedAt, s.brewingAt, s.readyAt, s.servedAt].filter((t): t is string => t !== undefined).map(Date.parse);
          order.expect(chain.every((t, i) => i === 0 || chain[i - 1]! <= t) && (!s.cancelledAt || !s.placedAt || Date.parse(s.placedAt) <= Date.parse(s.cancelledAt)), `${orderId}: board stages out of order`);
        }

        // (5) Redrive: a poisoned group's cancellation was held behind the poison, then applied after it, once.
        if (record.poisonGroup && divertedBefore.has(orderId) && cancelled !== undefined) {
          const cancelledApplied = applied.has(cancelled.id) && queueItem.data?.cancelledAt !== undefined;
          const stillParked = parkedIn(cancelled, ['barista']) !== undefined;
          redriveTally.expect(divertedBefore.get(orderId) === true, `${orderId}: the cancellation was not held behind the poison before the redrive`);
          redriveTally.expect(cancelledApplied && !stillParked, `${orderId}: cancellation not applied after the redrive`);
          redriveTally.expect(placed !== undefined && (applied.get(placed.id)?.at ?? Infinity) < (applied.get(cancelled.id)?.at ?? -Infinity), `${orderId}: the redriven cancellation was not applied after its group's placed event`);
        }
      }
      for (const p of live) {
        const back = returned.get(p.marker);
        redriveTally.expect(back !== undefined && hasReason(back), `${p.marker}: redriven poison not back in its DLQ with a reason`);
      }

      const totalLogged = [...logOf.values()].reduce((sum, events) => sum + events.length, 0);
      const committed = [...orders.values()].reduce((sum, o) => sum + o.committed.size, 0);
      const uncertain = [...orders.values()].reduce((sum, o) => sum + o.uncertain.size, 0);
      return [
        lost.result(`${committed} acknowledged, ${uncertain} uncertain, ${totalLogged} logged events`),
        twice.result(),
        order.result(),
        poisonTally.result(),
        redriveTally.result(redriven.join(', ')),
      ];
    },
  };
}

/** The coffee flow, as the chaos harness runs it. */
export const coffeeFlow: Flow = createCoffeeFlow();
