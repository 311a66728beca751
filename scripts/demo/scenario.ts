import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetFunctionConfigurationCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { SQSClient } from '@aws-sdk/client-sqs';
import { WAIT_TIME_EVENTS } from '../../functions/coffee/analytics/waitTimes';
import { auditSubject, discoverStores, PersonalDataSealer } from '../../functions/toolkit/privacy';
import { replay } from '../../functions/toolkit/replay';
import { CoffeeClient, shopActors, type BoardRow } from './coffeeClient';
import type { UserDirectoryClient } from './identities';
import { planOrder, runOrder, type FloorEvent, type OrderPlan } from './shopFloor';
import { appDeadLetterQueues, deadLetterDepth, formatSeconds, shopStats, type ShopStats } from './stats';
import { c } from './terminal';
import { runWalletScenario } from './walletScenario';

export interface DemoContext {
  readonly outputs: Record<string, string>;
  /** The wallet's HTTP API (local URL). */
  readonly walletApiUrl: string;
  readonly apiUrl: string;
  /** The coffee shop's and the wallet's user pools: the actors sign in there. */
  readonly coffeeUsers: UserDirectoryClient;
  readonly walletUsers: UserDirectoryClient;
  /** The wait-time analytics are not deployed yet: deploy them after the first orders, and replay. */
  readonly lateComer: boolean;
  readonly deployLateComer: () => Promise<Record<string, string>>;
  readonly signal: AbortSignal;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const clock = () => new Date().toISOString().slice(11, 19);
const COLOURS: Record<FloorEvent['what'], string> = {
  placed: c.cyan,
  brewing: c.yellow,
  ready: c.magenta,
  served: c.green,
  cancelled: c.red,
  'cancel refused': c.dim,
  discarded: c.red,
  rejected: c.red,
};
const printFloor = (event: FloorEvent) =>
  console.log(`  ${c.dim}${clock()}${c.reset}  ${event.orderId.padEnd(22)} ${COLOURS[event.what]}${event.what.padEnd(14)}${c.reset} ${c.dim}${event.detail ?? ''}${c.reset}`);

const describeStats = (stats: ShopStats, dlq: number) =>
  `placed ${stats.placed} · served ${stats.served} · cancelled ${stats.cancelled} · open ${stats.open} · overdue ${stats.overdue} · time to serve p50 ${formatSeconds(stats.p50)} p95 ${formatSeconds(stats.p95)} · DLQ depth ${dlq}`;

/** The late-comer joins: deployed now, it rebuilds from the orders' and counter's logs, then follows live. */
async function joinLateComer(context: DemoContext, shop: CoffeeClient): Promise<Record<string, string>> {
  console.log(`\n${c.bold}A late-comer joins:${c.reset} deploying the wait-time analytics while the shop keeps running …`);
  const outputs = await context.deployLateComer();
  const report = await replay({
    dynamodb: new DynamoDBClient({}),
    sqs: new SQSClient({}),
    logs: [outputs.OrdersTableName!, outputs.CounterTableName!],
    queueUrl: outputs.WaitTimesQueueUrl!,
    types: Object.keys(WAIT_TIME_EVENTS),
  });
  console.log(`  replayed ${report.sent} logged events (${report.keys} keys in 2 logs) into it (npm run ops -- replay does the same)`);
  const totals = await lateComerMatchesBoard(shop);
  console.log(`  ${totals.ok ? c.green : c.red}rebuilt:${c.reset} ${totals.description}`);
  return outputs;
}

/** Whether the analytics' totals equal what the board shows (both are read models of the same events). */
async function lateComerMatchesBoard(shop: CoffeeClient, timeoutMs = 120_000): Promise<{ ok: boolean; description: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await shop.board();
    const served = rows.filter((r) => r.servedAt && r.placedAt);
    const want = { served: served.length, totalWaitMs: served.reduce((sum, r) => sum + Date.parse(r.servedAt!) - Date.parse(r.placedAt!), 0), cancelled: rows.filter((r) => r.cancelledAt).length };
    const got = (await shop.waitTimes()).body;
    const ok = got.served === want.served && got.totalWaitMs === want.totalWaitMs && got.cancelled === want.cancelled;
    if (ok || Date.now() > deadline) {
      return { ok, description: `${got.served} served (board: ${want.served}), average wait ${formatSeconds(got.averageWaitSeconds ?? undefined)}, ${got.cancelled} cancelled (board: ${want.cancelled})` };
    }
    await sleep(500);
  }
}

/** Crypto-shredding: erase the customer, then audit every table and queue of the stack for them. */
async function eraseAndAudit(outputs: Record<string, string>, customer: { customerId: string; name: string; email: string }): Promise<boolean> {
  const lambda = new LambdaClient({});
  console.log(`\n${c.bold}Erasing customer ${customer.customerId}${c.reset} (right to be forgotten):`);
  const response = await lambda.send(new InvokeCommand({ FunctionName: outputs.EraseCustomerFunctionName, Payload: JSON.stringify({ subject: customer.customerId, erasedBy: 'npm-start' }) }));
  const erased = JSON.parse(Buffer.from(response.Payload ?? []).toString()) as { status: string; erasedAt: string; mode: string; eventId: string };
  console.log(`  ${erased.status} at ${erased.erasedAt} (${erased.mode} mode); published privacy.subject.erased ${erased.eventId}`);
  const eraserEnv = (await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: outputs.EraseCustomerFunctionName }))).Environment?.Variables ?? {};
  const sealer = PersonalDataSealer.fromEnvironment({ env: eraserEnv });
  const stores = await discoverStores(new DynamoDBClient({}), new SQSClient({}), (name) => name.startsWith('CoffeeShop'));
  const audit = await auditSubject({ subject: customer.customerId, stores, canOpen: (sealed) => sealer.canOpen(sealed), knownValues: [customer.name, customer.email] });
  for (const store of audit.stores.filter((s) => s.sealed > 0)) console.log(`  ${store.kind} ${store.name}: ${store.sealed} sealed copies, ${store.readable} readable, ${store.plaintext} plaintext`);
  console.log(`  Audit of ${audit.stores.length} stores: ${audit.clean ? `${c.green}CLEAN${c.reset}: nothing of the customer can be read` : `${c.red}NOT CLEAN${c.reset}`}`);
  return audit.clean;
}

/** Waits until the board shows each order where the shop floor left it. */
async function boardSettles(shop: CoffeeClient, expected: ReadonlyMap<string, BoardRow['status']>, timeoutMs = 60_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = new Map((await shop.board()).map((row) => [row.orderId, row.status]));
    const wrong = [...expected].filter(([orderId, status]) => rows.get(orderId) !== status).map(([orderId, status]) => `${orderId}: board ${rows.get(orderId) ?? 'absent'}, expected ${status}`);
    if (wrong.length === 0 || Date.now() > deadline) return wrong;
    await sleep(500);
  }
}

/** `--once`: a fixed scenario for CI and for a quick look; true when the shop kept every promise. */
export async function runScenario(context: DemoContext & { readonly orders: number }): Promise<boolean> {
  const shop = new CoffeeClient(context.apiUrl, await shopActors(context.coffeeUsers));
  const run = Date.now().toString(36);
  const customer = { customerId: `cust-${run}`, name: 'Ada Lovelace', email: 'ada@example.com' };
  const plans: OrderPlan[] = Array.from({ length: context.orders }, (_, n) => planOrder(`order-${run}`, n, n === 0 ? { customer } : {}));
  console.log(`${c.bold}Running the shop:${c.reset} ${plans.length} orders (the first for a customer whose name and email are sealed), some cancelled — early, or racing the barista:\n`);

  const outcomes = new Map<string, BoardRow['status']>();
  const floor = plans.map(async (plan, i) => {
    await sleep(i * 350);
    const outcome = await runOrder(shop, plan, printFloor);
    if (outcome === 'served' || outcome === 'cancelled') outcomes.set(plan.orderId, outcome);
    return outcome;
  });
  await sleep(800);
  const malformed = await shop.placeOrder({ orderId: 'x', lines: [{ product: 'tea', quantity: 0 }] });
  console.log(`  ${c.dim}${clock()}${c.reset}  ${'(malformed command)'.padEnd(22)} ${c.red}${String(malformed.status).padEnd(14)}${c.reset} ${malformed.body.error}: ${malformed.body.message}`);
  const retry = await shop.placeOrder(plans[0]!.command);
  console.log(`  ${c.dim}${clock()}${c.reset}  ${plans[0]!.orderId.padEnd(22)} ${c.green}${`${retry.status} (retry)`.padEnd(14)}${c.reset} the same request again: answered as the first time, nothing placed twice`);
  const reused = await shop.placeOrder({ ...plans[0]!.command, lines: [{ product: 'espresso', size: 'small', quantity: 1 }] });
  console.log(`  ${c.dim}${clock()}${c.reset}  ${plans[0]!.orderId.padEnd(22)} ${c.red}${String(reused.status).padEnd(14)}${c.reset} ${reused.body.error}: ${reused.body.message}`);
  // Only the right callers: nobody without a token, another customer cannot cancel it, a customer cannot brew.
  const intruder = await context.coffeeUsers.user('customer-2', ['customer']);
  let refusedRightly = true;
  for (const [who, answer, expected] of [
    ['no token: place an order', await shop.call('POST', '/orders', plans[0]!.command, null), 401],
    ['another customer cancels it', await shop.cancel(plans[0]!.orderId, intruder), 404],
    ['a customer starts the brew', await shop.call('POST', `/barista/orders/${plans[0]!.orderId}/start`), 403],
  ] as const) {
    refusedRightly &&= answer.status === expected;
    console.log(`  ${c.dim}${clock()}${c.reset}  ${plans[0]!.orderId.padEnd(22)} ${answer.status === expected ? c.red : `${c.bold}${c.red}UNEXPECTED `}${String(answer.status).padEnd(14)}${c.reset} ${who}: ${answer.body.error ?? ''} ${answer.body.message ?? ''}`);
  }
  const results = await Promise.all(floor);

  const unsettled = results.filter((r) => r !== 'served' && r !== 'cancelled').length;
  const wrong = await boardSettles(shop, outcomes);
  const stats = shopStats(await shop.board());
  const dlq = await deadLetterDepth(new SQSClient({}), await appDeadLetterQueues(new SQSClient({}), new LambdaClient({})));
  console.log(`\n${c.bold}The board:${c.reset} ${describeStats(stats, dlq)}`);
  for (const problem of wrong) console.log(`  ${c.red}${problem}${c.reset}`);

  const analytics = context.lateComer ? await joinLateComer(context, shop).then(() => lateComerMatchesBoard(shop)) : await lateComerMatchesBoard(shop);
  if (!context.lateComer) console.log(`\n${c.bold}Wait-time analytics:${c.reset} ${analytics.description}`);
  const clean = await eraseAndAudit(context.outputs, customer);
  const wallet = await runWalletScenario(context.walletApiUrl, context.walletUsers);

  const ok = unsettled === 0 && wrong.length === 0 && dlq === 0 && analytics.ok && clean && wallet && refusedRightly;
  console.log(`\n${ok ? `${c.green}${c.bold}Every order served or cancelled, nothing dead-lettered, the late-comer agrees, the customer erased, the fraud case handled, a failing transfer compensated.${c.reset}` : `${c.red}${c.bold}Something did not hold (see above).${c.reset}`}`);
  return ok;
}

/** `npm start`: orders keep coming until Ctrl-C; a summary line every few seconds. */
export async function runTrickle(context: DemoContext): Promise<boolean> {
  const shop = new CoffeeClient(context.apiUrl, await shopActors(context.coffeeUsers));
  const run = Date.now().toString(36);
  const sqs = new SQSClient({});
  const deadLetterQueues = await appDeadLetterQueues(sqs, new LambdaClient({}));
  await runWalletScenario(context.walletApiUrl, context.walletUsers);
  console.log(`\n${c.bold}The shop is open.${c.reset} A new order every ~2.5 s; every 7th is cancelled; every 25th is forgotten at the barista (the probe flags it after 5 minutes). Ctrl-C to close.\n`);
  let lateComer = context.lateComer;
  let joining: Promise<unknown> | undefined;
  const inFlight = new Set<Promise<unknown>>();
  let n = 0;
  let lastSummary = 0;
  while (!context.signal.aborted) {
    const plan = { ...planOrder(`order-${run}`, n, { cancelEvery: 7 }), ...(n % 25 === 24 ? { forgotten: true } : {}) };
    const flight = runOrder(shop, plan, printFloor).catch((error: unknown) => console.log(`  ${c.red}${plan.orderId}: ${error instanceof Error ? error.message : String(error)}${c.reset}`));
    inFlight.add(flight);
    void flight.finally(() => inFlight.delete(flight));
    n += 1;
    if (lateComer && n === 8) {
      lateComer = false;
      joining = joinLateComer(context, shop).catch((error: unknown) => console.log(`  ${c.red}late-comer: ${error instanceof Error ? error.message : String(error)}${c.reset}`));
    }
    if (Date.now() - lastSummary > 10_000) {
      lastSummary = Date.now();
      const stats = shopStats(await shop.board());
      console.log(`${c.bold}── ${describeStats(stats, await deadLetterDepth(sqs, deadLetterQueues))}${c.reset}`);
    }
    await sleep(2_000 + Math.random() * 1_000);
  }
  await Promise.all([...inFlight, joining]);
  return true;
}
