/**
 * The wallet under chaos: accounts opened and funded, many `wallet.transaction.added` events and
 * transfers (the saga) through the wallet's HTTP API, poison mixed into the consumers' queues; then
 * the invariants, checked from the consumers' own records: the wallet's log, FraudWatch's per-account
 * watch state and its published detections, the sagas' state, the dead-letter queues.
 */
import { DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { CloudFormationClient, DescribeStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import * as z from 'zod';
import { ParkedGroups } from '../../functions/toolkit/consumer';
import { readAggregate } from '../../functions/toolkit/outbox';
import { outboxPartitionKey } from '../../functions/toolkit/outbox/outboxItem';
import { discoverDeadLetterQueues, peekMessages, redrive } from '../../functions/toolkit/redrive';
import { emptyWatch, watchTransaction, type AccountWatch } from '../../functions/fraud/rules';
import { TransactionAddedV2 } from '../../functions/wallet/schemas';
import { TRANSFER_STEP_ATTEMPTS, TRANSFER_STEP_TIMEOUT_SECONDS } from '../../functions/wallet/transferSaga';
import { localApiUrl } from '../../localstack/endpoints';
import { userDirectoryOf, UserDirectoryClient } from '../../scripts/demo/identities';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import type { Flow, FlowContext, FlowFault, InvariantResult } from './flow';
import { discardPoison } from './discardPoison';
import { findPoison, poisonMarker, poisonPrefix } from './poison';
import { SettleTracker } from '../../functions/toolkit/progress/SettleTracker';
import { outcomeOf, TransferView, transferInvariants, type TransferRecord } from './transferOutcomes';

const FLOW = 'wallet';
const STACK = 'Wallet';
const INITIAL_FUNDS = 1_000_000;

const Envelope = z.object({ id: z.string(), type: z.string(), sequence: z.union([z.string(), z.number()]).transform(Number), data: z.record(z.string(), z.unknown()) }).passthrough();
type Envelope = z.infer<typeof Envelope>;
const LogItem = z.object({ kind: z.literal('outbox-event'), envelope: z.string() }).passthrough();
const WatchState = z.object({ watch: z.object({ recent: z.array(z.object({ transactionId: z.string(), at: z.string(), amount: z.number() })), payeeCountries: z.array(z.string()) }), lastSequence: z.number() });

interface Run {
  readonly runId: string;
  readonly accounts: string[];
  /** Acknowledged (HTTP 201) transactions: id → amount. */
  readonly acknowledged: Map<string, { accountId: string; amount: number }>;
  /** Answered 5xx or not at all: committed or not, the checks allow either (never twice). */
  readonly uncertain: Set<string>;
  readonly transfers: string[];
  readonly poison: { queue: 'fraud-watch' | 'flag-on-fraud'; marker: string; group?: string }[];
  apiErrors: number;
  /** Events submitted (the settle's hard cap grows with them). */
  submitted: number;
  /** Poison markers seen dead-lettered with a reason before the end (the live redrive discards them). */
  readonly foundEarly: Set<string>;
  /** The redrive run during the drive, once it ran. */
  liveRedrive?: { group: string; divertedBefore: number; moved: number; released: string[]; stuck: string[]; error?: string };
}

/**
 * The live redrive waits at most this long for a poisoned group to divert messages behind its poison:
 * FraudWatch, far behind under load, may reach a poison only minutes after it was sent.
 */
const LIVE_REDRIVE_WAIT_MS = 15 * 60_000;
/** Each poisoned account gets a transaction this often while it is parked and redriven. */
const LIVE_TRICKLE_EVERY_MS = 5_000;
/**
 * The live redrive waits for FraudWatch to reach its release marker as long as FraudWatch makes
 * progress (far behind under load: the 2026-12 run saw its queue ~4,700 deep); past this, the run
 * stops it and reports the violation rather than hang.
 */
const LIVE_REDRIVE_CAP_MS = 40 * 60_000;
/** Messages a poisoned group must have diverted before the live redrive: a backlog behind the poison. */
const LIVE_REDRIVE_MIN_DIVERTED = 2;

export interface WalletFlowOptions {
  /**
   * Longest wait without progress before checking anyway. Longer than a saga step's timeout (and a
   * late answer's delay, 15 s past it: a transfer waiting for its timer makes no visible progress)
   * and than the consumer queues' visibility timeouts (a failed message may stay hidden that long).
   * @default max(step timeout × attempts, longest visibility timeout) + 30 s
   */
  readonly settleIdleMs?: number;
  /** Longest wait in all. @default 1 s per event submitted, between 5 and 90 minutes */
  readonly settleCapMs?: number;
  readonly random?: () => number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** This run's poison, and only it (an operator's filter). */
const isPoisonOf = (runId: string) => (body: string) => body.includes(poisonPrefix(runId));

/** Runs `tasks` with at most `limit` at a time. */
async function pool<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await task(items[next++]!);
  }));
}

export class WalletFlow implements Flow {
  readonly name = FLOW;
  private readonly ddb = new DynamoDBClient({});
  private readonly sqs = new SQSClient({});
  private readonly lambda = new LambdaClient({});
  private run: Run | undefined;
  private resources: Array<{ logicalId: string; physicalId: string; type: string }> | undefined;

  constructor(private readonly options: WalletFlowOptions = {}) {}

  private get random(): () => number {
    return this.options.random ?? Math.random;
  }

  /** The Wallet stack's resources by logical-id prefix (function names, queue URLs). */
  private async resource(prefix: string, type: 'AWS::Lambda::Function' | 'AWS::SQS::Queue'): Promise<string> {
    if (!this.resources) {
      const { StackResources = [] } = await new CloudFormationClient({}).send(new DescribeStackResourcesCommand({ StackName: STACK }));
      this.resources = StackResources.map((r) => ({ logicalId: r.LogicalResourceId ?? '', physicalId: r.PhysicalResourceId ?? '', type: r.ResourceType ?? '' }));
    }
    const found = this.resources.find((r) => r.type === type && r.logicalId.startsWith(prefix));
    if (!found) throw new Error(`the ${STACK} stack has no ${type} ${prefix}*`);
    return found.physicalId;
  }

  functions(_ctx: FlowContext): string[] {
    // Resolved in drive() (asynchronously); the harness asks after `prepare`.
    return this.routed;
  }

  private routed: string[] = [];

  /** Looks up the deployed functions to route: every function of the wallet and anti-fraud services. */
  async prepare(): Promise<void> {
    this.routed = await Promise.all(['WalletRelay', 'FraudRelay', 'TransfersOutboxRelay', 'FraudWatchFunction', 'FlagOnFraudFunction', 'CommandsFunction', 'TransfersRunnerFunction', 'ApiF'].map((p) => this.resource(p, 'AWS::Lambda::Function')));
  }

  /**
   * The wallet API. Reads, opening an account and starting a transfer (keyed by its id) are retried on
   * 5xx or a network error; adding a transaction is not: the API does not deduplicate on
   * `transactionId`, so a retry after an ambiguous failure could add it twice. Such a transaction is
   * recorded as uncertain (it may or may not have been committed) and the checks allow either.
   */
  private api(ctx: FlowContext) {
    const base = localApiUrl(ctx.outputs.WalletApiId!, undefined, ctx.endpoint);
    // One holder owns every account of the run, signed in to the wallet's user pool (directly: their sign-in is not what the faults test).
    const users = new UserDirectoryClient(userDirectoryOf(ctx.outputs, 'Wallet'), new CognitoIdentityProviderClient({ endpoint: ctx.endpoint }));
    const holder = users.user('chaos-holder', ['account-holder']);
    return async (method: string, path: string, body?: unknown, retry = true): Promise<{ status: number; body: unknown }> => {
      for (let attempt = 1; ; attempt++) {
        try {
          const authorization = `Bearer ${await (await holder).accessToken()}`;
          const response = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json', authorization }, ...(body === undefined ? {} : { body: JSON.stringify(body) }), signal: AbortSignal.timeout(60_000) });
          const text = await response.text();
          if (response.status >= 500 && retry && attempt < 6) {
            if (this.run) this.run.apiErrors++;
            await sleep(200 * attempt);
            continue;
          }
          return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
        } catch (error) {
          if (!retry) return { status: 0, body: String(error) };
          if (attempt >= 6) throw error;
          if (this.run) this.run.apiErrors++;
          await sleep(200 * attempt);
        }
      }
    };
  }

  async drive(ctx: FlowContext, opts: { events: number; keys: number; poison: number; onProgress: (submitted: number) => void }): Promise<void> {
    const runId = `chaos${Date.now().toString(36)}`;
    const run: Run = { runId, accounts: Array.from({ length: opts.keys }, (_, i) => `${runId}-a${i}`), acknowledged: new Map(), uncertain: new Set(), transfers: [], poison: [], apiErrors: 0, submitted: 0, foundEarly: new Set() };
    this.run = run;
    const call = this.api(ctx);
    /** Adds a transaction once (no retry): acknowledged on 201, uncertain on 5xx or no answer. */
    const transact = async (accountId: string, transactionId: string, amount: number) => {
      const answer = await call('POST', `/accounts/${accountId}/transactions`, { transactionId, amount: { amount, currency: 'EUR' }, ...(amount < 0 ? { payee: { name: 'Corner Shop', country: 'NL' } } : {}) }, false);
      if (answer.status === 201) run.acknowledged.set(transactionId, { accountId, amount });
      else if (answer.status >= 500 || answer.status === 0) run.uncertain.add(transactionId);
      else if (answer.status !== 409) throw new Error(`transaction ${transactionId}: HTTP ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`); // 409: a flagged account refuses debits
    };
    let submitted = 0;
    const progress = () => opts.onProgress((run.submitted = ++submitted));
    const expect = (what: string, answer: { status: number; body: unknown }, ok: number) => {
      if (answer.status !== ok) throw new Error(`${what}: HTTP ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`);
    };

    // Accounts, each funded once: 2 events per key.
    await pool(run.accounts, 8, async (accountId) => {
      const opened = await call('POST', '/accounts', { accountId, holderName: 'Chaos Tester', currency: 'EUR' });
      if (opened.status !== 409) expect(`open ${accountId}`, opened, 201); // 409: a retry after an ambiguous failure
      progress();
      await transact(accountId, `${accountId}-fund`, INITIAL_FUNDS);
      progress();
    });

    // The load: 85 % transactions (credits and small debits, home-country payees: only the velocity
    // rule fires, and the check replays it), 15 % transfers; poison spread through it.
    const remaining = Math.max(0, opts.events - 2 * opts.keys);
    const work: Array<{ kind: 'tx' | 'transfer' | 'poison'; n: number }> = Array.from({ length: remaining }, (_, n) => ({ kind: this.random() < 0.85 ? 'tx' : 'transfer', n }));
    for (let p = 0; p < opts.poison; p++) work.splice(Math.floor(((p + 1) * work.length) / (opts.poison + 1)), 0, { kind: 'poison', n: p });
    const pick = () => run.accounts[Math.floor(this.random() * run.accounts.length)]!;
    const fraudWatchQueue = ctx.outputs.FraudWatchQueueUrl!;
    const flagQueue = await this.resource('FlagOnFraudQueue', 'AWS::SQS::Queue');
    /** Real accounts whose FraudWatch group was poisoned (parked until a redrive). */
    const poisonedAccounts: string[] = [];
    let live: Promise<unknown> | undefined;
    await pool(work, 8, async ({ kind, n }) => {
      if (kind === 'tx') {
        const accountId = pick();
        const amount = this.random() < 0.7 ? 100 + Math.floor(this.random() * 5_000) : -(100 + Math.floor(this.random() * 2_000));
        await transact(accountId, `${runId}-t${n}`, amount);
      } else if (kind === 'transfer') {
        const from = pick();
        let to = pick();
        while (to === from) to = pick();
        const transferId = `${runId}-x${n}`;
        expect(`transfer ${transferId}`, await call('POST', '/transfers', { transferId, from, to, amount: { amount: 100 + Math.floor(this.random() * 3_000), currency: 'EUR' } }), 202);
        run.transfers.push(transferId);
      } else {
        // Poison: malformed bodies straight into the consumers' queues; on the ordered queue every
        // other one in a real account's group (it parks that group until the redrive).
        const marker = poisonMarker(runId, n);
        if (n % 2 === 0) {
          const group = n % 4 === 0 ? run.accounts[n % run.accounts.length]! : `${runId}-poison-${n}`;
          await this.sqs.send(new SendMessageCommand({ QueueUrl: fraudWatchQueue, MessageBody: `{"${marker}": `, MessageGroupId: group, MessageDeduplicationId: `${runId}-poison-${n}` }));
          run.poison.push({ queue: 'fraud-watch', marker, group });
          if (n % 4 === 0 && !poisonedAccounts.includes(group)) {
            poisonedAccounts.push(group);
            // Runs beside the load (a rejection is kept for the end of the drive, not left unhandled).
            live ??= this.redriveWhileLive(ctx, run, poisonedAccounts, transact).then(() => undefined, (error: unknown) => error);
          }
        } else {
          await this.sqs.send(new SendMessageCommand({ QueueUrl: flagQueue, MessageBody: JSON.stringify({ specversion: '1.0', note: marker }) }));
          run.poison.push({ queue: 'flag-on-fraud', marker });
        }
      }
      progress();
    });
    const failed = await live;
    if (failed !== undefined) throw failed;
  }

  /** The FraudWatch dead-letter queue (FIFO), its source queue and the consumer's parked groups. */
  private async fraudWatchDeadLetters(ctx: FlowContext) {
    const dlq = (await discoverDeadLetterQueues(this.sqs, this.lambda)).find((q) => q.sourceQueueUrl === ctx.outputs.FraudWatchQueueUrl);
    if (!dlq?.stateTableName || !dlq.sourceQueueUrl) throw new Error('the FraudWatch dead-letter queue (with its parked groups) was not found');
    return { url: dlq.url, sourceQueueUrl: dlq.sourceQueueUrl, parkedGroups: new ParkedGroups(this.ddb, dlq.stateTableName) };
  }

  /**
   * An operator's redrive while the system is live: once a poisoned group has diverted messages
   * behind its poison, the poison is discarded and the DLQ redriven with the toolkit's `redrive()`,
   * while transactions keep arriving for the poisoned accounts (one every 5 s each, from the first
   * poison until 5 s after the redrive). The final redrive at the end of the check still follows.
   */
  private async redriveWhileLive(ctx: FlowContext, run: Run, poisoned: readonly string[], transact: (accountId: string, transactionId: string, amount: number) => Promise<void>): Promise<void> {
    let stop = false;
    let trickled = 0;
    const trickle = (async () => {
      while (!stop) {
        for (const accountId of [...poisoned]) {
          await transact(accountId, `${run.runId}-live${trickled++}`, 100 + Math.floor(this.random() * 1_000)).catch((error: unknown) => ctx.log(`wallet: a transaction to a poisoned account failed: ${String(error).slice(0, 200)}`));
        }
        await sleep(LIVE_TRICKLE_EVERY_MS);
      }
    })();
    try {
      const dlq = await this.fraudWatchDeadLetters(ctx);
      const deadline = Date.now() + LIVE_REDRIVE_WAIT_MS;
      let ready: { group: string; diverted: number } | undefined;
      while (!ready && Date.now() < deadline) {
        for (const group of [...poisoned]) {
          const park = await dlq.parkedGroups.get(group);
          if (park && park.diverted >= LIVE_REDRIVE_MIN_DIVERTED) ready = park;
        }
        if (!ready) await sleep(2_000);
      }
      if (!ready) {
        ctx.log(`wallet: no poisoned group diverted ${LIVE_REDRIVE_MIN_DIVERTED} messages within ${LIVE_REDRIVE_WAIT_MS / 1000} s: no redrive during the drive`);
        run.liveRedrive = { group: poisoned.join(', '), divertedBefore: 0, moved: 0, released: [], stuck: [], error: `no poisoned group diverted ${LIVE_REDRIVE_MIN_DIVERTED} messages within ${LIVE_REDRIVE_WAIT_MS / 1000} s: the redrive under load did not run` };
        return;
      }
      // The operator reads the reasons, discards the poison, and redrives (as `npm run ops -- redrive` does).
      // The scan hides what it keeps for 20 s at most (it shows them again when done): the redrive that
      // follows must not wait out a longer hiding if showing them again failed.
      for (const marker of findPoison(run.poison.map((p) => p.marker), await discardPoison(this.sqs, dlq.url, isPoisonOf(run.runId), 20)).found) run.foundEarly.add(marker);
      ctx.log(`wallet: redriving the FraudWatch DLQ during the drive (${ready.group} has ${ready.diverted} diverted)`);
      try {
        const report = await redrive({ sqs: this.sqs, deadLetterQueueUrl: dlq.url, sourceQueueUrl: dlq.sourceQueueUrl, parkedGroups: dlq.parkedGroups, runId: `${run.runId}-redrive-live`, visibilityTimeoutSeconds: 10, signal: AbortSignal.timeout(LIVE_REDRIVE_CAP_MS) });
        run.liveRedrive = { group: ready.group, divertedBefore: ready.diverted, moved: report.moved, released: report.releasedGroups, stuck: report.stuckGroups.map((g) => g.group) };
      } catch (error) {
        run.liveRedrive = { group: ready.group, divertedBefore: ready.diverted, moved: 0, released: [], stuck: [], error: error instanceof Error ? error.message : String(error) };
      }
      const r = run.liveRedrive;
      ctx.log(`wallet: the redrive during the drive moved ${r.moved}, released ${r.released.length} groups, stuck ${r.stuck.length}${r.error ? ` — failed: ${r.error}` : ''}`);
      await sleep(5_000); // events keep arriving after the park is lifted
    } finally {
      stop = true;
      await trickle;
      ctx.log(`wallet: ${trickled} transactions added to the poisoned accounts while they were parked and redriven`);
    }
  }

  /** Faults this flow injected itself, beyond the poison: the redrive during the drive. */
  injected(): FlowFault[] {
    const live = this.run?.liveRedrive;
    return live && live.moved > 0 && !live.error ? [{ kind: 'redrive-under-load', service: 'sqs', operation: 'redrive FraudWatch DLQ mid-drive', count: 1 }] : [];
  }

  /** The account's wallet events, in commit order, from its log (the outbox, kept for good). */
  private async log(tableName: string, accountId: string): Promise<Envelope[]> {
    const events: Envelope[] = [];
    let startKey: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> | undefined;
    do {
      const page = await this.ddb.send(new QueryCommand({ TableName: tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: marshall({ ':pk': outboxPartitionKey(accountId) }), ConsistentRead: true, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }));
      for (const item of page.Items ?? []) {
        const parsed = LogItem.safeParse(unmarshall(item));
        if (parsed.success) events.push(Envelope.parse(JSON.parse(parsed.data.envelope)));
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return events.sort((a, b) => a.sequence - b.sequence);
  }

  /** Each account's log, FraudWatch state and published detections (only `only`'s when given). */
  private async snapshot(ctx: FlowContext, only?: readonly string[]) {
    const run = { accounts: only ?? this.run!.accounts };
    const walletTable = ctx.outputs.WalletTableName!;
    const fraudTable = ctx.outputs.FraudTableName!;
    const accounts = await Promise.all(
      run.accounts.map(async (accountId) => {
        const [log, watchItem, detections] = await Promise.all([
          this.log(walletTable, accountId),
          readAggregate<unknown>(this.ddb, fraudTable, { pk: `WATCH#${accountId}`, sk: 'STATE' }),
          this.log(fraudTable, accountId),
        ]);
        const watch = watchItem ? WatchState.parse(watchItem.state) : undefined;
        return { accountId, log, watch, detections: detections.filter((e) => e.type === 'fraud.detected') };
      }),
    );
    return accounts;
  }

  /** Each transfer as its saga sees it (GET /transfers/{id}: status and failure); undefined where it could not be read. */
  private async transferViews(ctx: FlowContext, transferIds: readonly string[]): Promise<TransferRecord[]> {
    const call = this.api(ctx);
    const views: TransferRecord[] = [];
    await pool(transferIds, 8, async (transferId) => {
      const answer = await call('GET', `/transfers/${transferId}`);
      const view = answer.status === 200 ? TransferView.safeParse(answer.body) : undefined;
      views.push({ transferId, view: view?.success ? view.data : undefined });
    });
    return views;
  }

  /** Messages in a queue: visible, in flight and (if asked) delayed. */
  private async depth(queueUrl: string, delayed: boolean): Promise<number> {
    const { Attributes = {} } = await this.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] }));
    return Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) + (delayed ? Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0) : 0);
  }

  /** The consumers' queues, for the settle. */
  private async consumerQueues(ctx: FlowContext) {
    const [flagOnFraud, saga] = await Promise.all([this.resource('FlagOnFraudQueue', 'AWS::SQS::Queue'), this.resource('TransfersRunnerQueue', 'AWS::SQS::Queue')]);
    return { fraudWatch: ctx.outputs.FraudWatchQueueUrl!, flagOnFraud, commands: ctx.outputs.CommandQueueUrl!, saga };
  }

  /**
   * Their depths. Delayed messages count on the command queue (a late command still changes
   * balances) but not on the saga's own queue (the timers of finished transfers: a running one is
   * counted as running).
   */
  private async queueDepths(ctx: FlowContext): Promise<Record<string, number>> {
    const queues = await this.consumerQueues(ctx);
    const [fraudWatch, flagOnFraud, commands, transfers] = await Promise.all([
      this.depth(queues.fraudWatch, true),
      this.depth(queues.flagOnFraud, true),
      this.depth(queues.commands, true),
      this.depth(queues.saga, false),
    ]);
    return { 'FraudWatch queue': fraudWatch, 'FlagOnFraud queue': flagOnFraud, 'command queue': commands, 'saga queue': transfers };
  }

  private async settleTracker(ctx: FlowContext): Promise<SettleTracker> {
    const submitted = this.run?.submitted ?? 0;
    const visibility = await Promise.all(Object.values(await this.consumerQueues(ctx)).map(async (QueueUrl) => {
      const { Attributes = {} } = await this.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['VisibilityTimeout'] }));
      return Number(Attributes.VisibilityTimeout ?? 30);
    }));
    return new SettleTracker({
      // A transfer whose step goes unanswered shows no progress until its last attempt times out.
      idleMs: this.options.settleIdleMs ?? (Math.max(TRANSFER_STEP_TIMEOUT_SECONDS * TRANSFER_STEP_ATTEMPTS, ...visibility) + 30) * 1000,
      capMs: this.options.settleCapMs ?? Math.min(90 * 60_000, Math.max(5 * 60_000, submitted * 1000)),
    });
  }

  async check(ctx: FlowContext): Promise<InvariantResult[]> {
    const run = this.run;
    if (!run) throw new Error('drive() first');
    const lastTx = (log: Envelope[]) => Math.max(0, ...log.filter((e) => e.type === 'wallet.transaction.added').map((e) => e.sequence));
    const poisonedGroups = new Set(run.poison.flatMap((p) => (p.group?.startsWith(`${run.runId}-a`) ? [p.group] : [])));

    // 1. Settle: the consumers' queues drained, transfers finished, FraudWatch caught up on every
    //    group that is not parked. Waits while any of these shrinks (a backlogged consumer is slow,
    //    not wrong); checks anyway once nothing has shrunk for a while, or at the hard cap.
    let transfers = await this.transferViews(ctx, run.transfers);
    const running = () => transfers.filter((t) => outcomeOf(t.view) === 'unfinished');
    let accounts = await this.snapshot(ctx);
    const unflagged = (a: (typeof accounts)[number]) => a.detections.length > 0 && !a.log.some((e) => e.type === 'wallet.account.flagged');
    const behind = () => accounts.filter((a) => !poisonedGroups.has(a.accountId) && ((a.watch?.lastSequence ?? 0) < lastTx(a.log) || unflagged(a)));
    // No transaction is added once the drive is over: only the accounts still behind are read again
    // (the poll must not load the one emulator it waits for).
    const refresh = async (ids: string[]) => {
      const fresh = new Map((await this.snapshot(ctx, ids)).map((a) => [a.accountId, a]));
      accounts = accounts.map((a) => fresh.get(a.accountId) ?? a);
    };
    const settle = await this.settleTracker(ctx);
    for (let poll = 0; ; poll++) {
      const verdict = settle.observe({ ...(await this.queueDepths(ctx)), 'accounts behind': behind().length, 'transfers running': running().length });
      if (verdict !== 'waiting') {
        ctx.log(`wallet: ${verdict === 'settled' ? 'settled' : `not settled (${verdict})`} after ${settle.elapsedSeconds()} s — ${settle.describe()}`);
        break;
      }
      if (poll % 6 === 0) ctx.log(`wallet: waiting — ${settle.describe()}`);
      await sleep(5_000);
      const stillRunning = running();
      const updated = stillRunning.length > 0 ? new Map((await this.transferViews(ctx, stillRunning.map((t) => t.transferId))).map((t) => [t.transferId, t])) : new Map<string, TransferRecord>();
      transfers = transfers.map((t) => updated.get(t.transferId) ?? t);
      await refresh(behind().map((a) => a.accountId));
    }

    // 2. Poison: every one in its DLQ with a reason; the operator discards them, then redrives the
    //    ordered queue (groups parked behind a poison message complete in order).
    const dlqs = await discoverDeadLetterQueues(this.sqs, this.lambda);
    const fraudWatchDlq = dlqs.find((q) => q.sourceQueueUrl === ctx.outputs.FraudWatchQueueUrl);
    const flagQueue = await this.resource('FlagOnFraudQueue', 'AWS::SQS::Queue');
    const flagDlq = dlqs.find((q) => q.sourceQueueUrl === flagQueue);
    if (!fraudWatchDlq?.stateTableName || !flagDlq) throw new Error('the wallet consumers’ dead-letter queues were not found');
    const found = new Set<string>(run.foundEarly); // the live redrive's operator discarded those after reading them
    /** Detections FlagOnFraud dead-lettered with a reason (accounted for: in a DLQ, not lost). */
    const flagDeadLetters = new Set<string>();
    // A consumer's own send to its DLQ may meet faults too; it is retried with backoff, so allow for it.
    const poisonDeadline = Date.now() + 120_000;
    const markers = run.poison.map((p) => p.marker);
    while (found.size < run.poison.length && Date.now() < poisonDeadline) {
      for (const url of [fraudWatchDlq.url, flagDlq.url]) {
        const messages = await peekMessages(this.sqs, url, 200);
        for (const m of messages) if (url === flagDlq.url && m.MessageAttributes?.errorName?.StringValue && m.Body?.includes('fraud.detected')) flagDeadLetters.add(m.Body);
        for (const marker of findPoison(markers, messages.map((m) => ({ body: m.Body ?? '', hasReason: Boolean(m.MessageAttributes?.errorName?.StringValue) }))).found) found.add(marker);
      }
      if (found.size < run.poison.length) await sleep(2_000);
    }
    for (const url of [fraudWatchDlq.url, flagDlq.url]) for (const marker of findPoison(markers, await discardPoison(this.sqs, url, isPoisonOf(run.runId))).found) found.add(marker);
    const report = await redrive({ sqs: this.sqs, deadLetterQueueUrl: fraudWatchDlq.url, sourceQueueUrl: fraudWatchDlq.sourceQueueUrl!, parkedGroups: new ParkedGroups(this.ddb, fraudWatchDlq.stateTableName), runId: `${run.runId}-redrive`, visibilityTimeoutSeconds: 10 });
    ctx.log(`wallet: redrive moved ${report.moved}, released ${report.releasedGroups.length} groups, stuck ${report.stuckGroups.length}`);
    const lagging = () => accounts.filter((a) => (a.watch?.lastSequence ?? 0) < lastTx(a.log));
    await refresh([...poisonedGroups]);
    const caughtUp = await this.settleTracker(ctx);
    for (;;) {
      const verdict = caughtUp.observe({ 'FraudWatch queue': await this.depth(ctx.outputs.FraudWatchQueueUrl!, true), 'accounts behind': lagging().length });
      if (verdict !== 'waiting') {
        ctx.log(`wallet: after the redrive, ${verdict === 'settled' ? 'caught up' : `not caught up (${verdict})`} in ${caughtUp.elapsedSeconds()} s — ${caughtUp.describe()}`);
        break;
      }
      await sleep(3_000);
      await refresh(lagging().map((a) => a.accountId));
    }
    accounts = await this.snapshot(ctx); // the final state of every account, for the checks

    // 3. The invariants, from the consumers' own records.
    const results: InvariantResult[] = [];
    const add = (invariant: string, checked: number, violations: number, detail?: string) => results.push({ flow: FLOW, invariant, checked, violations, ...(violations > 0 && detail ? { detail } : {}) });

    const txCount = new Map<string, number>();
    let committedTotal = 0;
    for (const a of accounts) {
      for (const e of a.log) {
        if (e.type !== 'wallet.transaction.added') continue;
        const tx = TransactionAddedV2.parse(e.data);
        txCount.set(tx.transactionId, (txCount.get(tx.transactionId) ?? 0) + 1);
        committedTotal += tx.amount.amount;
      }
    }
    const missing = [...run.acknowledged.keys()].filter((id) => !txCount.has(id));
    const unexplained = [...txCount.keys()].filter((id) => !run.acknowledged.has(id) && !run.uncertain.has(id));
    const doubled = [...txCount.entries()].filter(([, n]) => n > 1).map(([id]) => id);
    add('acknowledged transaction committed (0 lost)', run.acknowledged.size, missing.length, `missing: ${missing.slice(0, 5).join(', ')}`);
    add('committed transaction was submitted (acknowledged, or uncertain after a 5xx)', txCount.size, unexplained.length, `unexplained: ${unexplained.slice(0, 5).join(', ')}`);
    add('transaction committed once (0 applied twice)', txCount.size, doubled.length, `doubled: ${doubled.slice(0, 5).join(', ')}`);

    const behindAtEnd = lagging();
    add('FraudWatch applied every committed transaction (0 lost, ordered path)', accounts.length, behindAtEnd.length, `behind: ${behindAtEnd.slice(0, 5).map((a) => `${a.accountId} ${a.watch?.lastSequence ?? 0}/${lastTx(a.log)}`).join(', ')}`);

    let orderViolations = 0;
    const outOfOrder = new Set<string>();
    let detectionMismatch = 0;
    let flagMismatch = 0;
    const orderDetails: string[] = [];
    const detectionDetails: string[] = [];
    const flagDetails: string[] = [];
    for (const a of accounts) {
      let watch: AccountWatch = emptyWatch;
      let expected = 0;
      for (const e of a.log) {
        if (e.type !== 'wallet.transaction.added') continue;
        const step = watchTransaction(watch, TransactionAddedV2.parse(e.data));
        watch = step.watch;
        expected += step.detections.length;
      }
      const actual = a.watch?.watch ?? emptyWatch;
      if (JSON.stringify(actual.recent.map((t) => t.transactionId)) !== JSON.stringify(watch.recent.map((t) => t.transactionId)) || JSON.stringify(actual.payeeCountries) !== JSON.stringify(watch.payeeCountries)) {
        orderViolations++;
        outOfOrder.add(a.accountId);
        orderDetails.push(`${a.accountId}: watch differs from the in-order replay`);
      }
      if (a.detections.length !== expected) {
        detectionMismatch++;
        detectionDetails.push(`${a.accountId}: ${a.detections.length} detections, replay says ${expected}`);
      }
      const flagged = a.log.filter((e) => e.type === 'wallet.account.flagged').length;
      const flagDeadLettered = flagged === 0 && [...flagDeadLetters].some((body) => body.includes(`"${a.accountId}"`));
      if ((expected > 0 ? 1 : 0) !== flagged && !flagDeadLettered) {
        flagMismatch++;
        flagDetails.push(`${a.accountId}: flagged ${flagged}×, ${expected} detection(s) by the rules, ${a.detections.length} published`);
      }
    }
    add('FraudWatch state equals the in-order replay of the log (0 per-key order violations)', accounts.length, orderViolations, orderDetails.slice(0, 3).join('; '));
    add('fraud.detected published exactly as the rules say (0 lost, 0 twice)', accounts.length, detectionMismatch, detectionDetails.slice(0, 3).join('; '));
    add('each detected account flagged exactly once, or its detection in a DLQ with a reason (fan-out path)', accounts.length, flagMismatch, flagDetails.slice(0, 3).join('; '));

    results.push(...transferInvariants(FLOW, transfers));

    const store = await import('../../functions/wallet/walletStore');
    const wallet = store.walletStore(this.ddb, undefined, { tableName: ctx.outputs.WalletTableName!, source: 'wallet.accounts' });
    const { available } = await import('../../functions/wallet/wallet');
    let total = 0;
    let openReservations = 0;
    for (const accountId of run.accounts) {
      const { state } = await wallet.load(accountId);
      total += state.balance;
      if (available(state) !== state.balance) openReservations++;
    }
    add('sum of balances = sum of committed transactions (transfers create or lose no money)', run.accounts.length, total === committedTotal ? 0 : 1, `balances ${total}, transactions ${committedTotal}`);
    add('no reservation left open', run.accounts.length, openReservations);
    add('poison messages in a DLQ with a reason', run.poison.length, run.poison.length - found.size, `missing: ${markers.filter((m) => !found.has(m)).slice(0, 5).join(', ')}`);
    const poisoned = accounts.filter((a) => poisonedGroups.has(a.accountId));
    const incomplete = poisoned.filter((a) => (a.watch?.lastSequence ?? 0) < lastTx(a.log) || outOfOrder.has(a.accountId)).map((a) => `${a.accountId} ${a.watch?.lastSequence ?? 0}/${lastTx(a.log)}${outOfOrder.has(a.accountId) ? ' out of order' : ''}`);
    if (run.liveRedrive) {
      const live = run.liveRedrive;
      add('the redrive during the drive finished (backlog moved back, parks released or kept)', 1, live.error ? 1 : 0, `${live.group} (${live.divertedBefore} diverted): ${live.error ?? ''}`);
    }
    const stuck = report.stuckGroups.map((g) => `${g.group} stuck: ${g.reason}`);
    add('poisoned ordered groups complete in order after redrive', poisoned.length, incomplete.length + stuck.length, [...incomplete, ...stuck].slice(0, 5).join('; '));
    ctx.log(`wallet: ${run.acknowledged.size} transactions acknowledged, ${run.uncertain.size} uncertain, ${run.transfers.length} transfers, ${run.poison.length} poison, ${run.apiErrors} API retries`);
    return results;
  }

}
