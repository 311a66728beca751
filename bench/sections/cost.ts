/**
 * Report section: cost per million events of our relay, the naive relay and an EventBridge Pipes
 * design, from the API calls the bench counted and AWS list prices (bench/prices.json).
 *
 * Run alone: `npx tsx bench/sections/cost.ts` (prints the section for a sample run).
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import type { ApiCallCounts, MeasuredRun, ReportSection, TargetRow } from './types';

const PriceSchema = z.object({
  usd: z.number().nonnegative(),
  per: z.number().positive(),
  unit: z.string().min(1),
  source: z.string().url(),
  date: z.string().min(1),
});
export type Price = z.infer<typeof PriceSchema>;

const PRICE_NAMES = [
  'lambdaRequest',
  'lambdaGbSecondArm',
  'eventBridgeCustomEvent',
  'eventBridgePipesRequest',
  'sqsStandardRequest',
  'sqsFifoRequest',
  'dynamoDbWriteRequestUnit',
  'dynamoDbReadRequestUnit',
  'dynamoDbStreamsReadRequestUnit',
  'kmsRequest',
  'kmsKeyMonth',
] as const;
export type PriceName = (typeof PRICE_NAMES)[number];

export const PriceTableSchema = z.object({
  region: z.string(),
  currency: z.literal('USD'),
  note: z.string().min(1),
  prices: z.object(Object.fromEntries(PRICE_NAMES.map((name) => [name, PriceSchema])) as Record<PriceName, typeof PriceSchema>),
});
export type PriceTable = z.infer<typeof PriceTableSchema>;

export const PRICES_FILE = new URL('../prices.json', import.meta.url);

/** The price table, validated (a bad edit of prices.json fails here, naming the bad keys). */
export function loadPrices(file: URL | string = PRICES_FILE): PriceTable {
  return PriceTableSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
}

/** One priced item of a design: `unitPrice × unitsPerEvent × 10⁶` dollars per million events. */
export interface CostLine {
  readonly item: string;
  /** Which price (undefined: counted but not priced here, e.g. CloudWatch). */
  readonly price?: PriceName;
  readonly unitsPerEvent: number;
  readonly usdPerMillion: number;
  readonly note?: string;
}

export interface CostOptions {
  readonly prices?: PriceTable;
  /** Size of one event on the wire, for the 64 KB chunk rule. @default 1024 */
  readonly eventBytes?: number;
  /** Queue type the relay's SQS calls go to (ordered subscribers are FIFO). @default 'fifo' */
  readonly sqsQueueType?: 'fifo' | 'standard';
  /** Pipes design: records per pipe invocation (source batch size; ≤ 10 for SQS and bus targets). @default 10 */
  readonly pipesBatchSize?: number;
}

const CHUNK_BYTES = 64 * 1024;
const chunks = (bytes: number): number => Math.max(1, Math.ceil(bytes / CHUNK_BYTES));
const usdPerMillion = (price: Price, unitsPerEvent: number): number => (price.usd / price.per) * unitsPerEvent * 1e6;

/** DynamoDB operations → request units per item (writes: WRU; reads: RRU), items ≤ 1 KB / ≤ 4 KB. */
const DYNAMODB_UNITS: Record<string, { price: PriceName; perItem: number }> = {
  PutItem: { price: 'dynamoDbWriteRequestUnit', perItem: 1 },
  UpdateItem: { price: 'dynamoDbWriteRequestUnit', perItem: 1 },
  DeleteItem: { price: 'dynamoDbWriteRequestUnit', perItem: 1 },
  BatchWriteItem: { price: 'dynamoDbWriteRequestUnit', perItem: 1 },
  TransactWriteItems: { price: 'dynamoDbWriteRequestUnit', perItem: 2 },
  GetItem: { price: 'dynamoDbReadRequestUnit', perItem: 1 },
  BatchGetItem: { price: 'dynamoDbReadRequestUnit', perItem: 1 },
  Query: { price: 'dynamoDbReadRequestUnit', perItem: 1 },
  TransactGetItems: { price: 'dynamoDbReadRequestUnit', perItem: 2 },
};

/**
 * Prices one relay's measured API calls and Lambda time per event. Every counted HTTP attempt is
 * priced (retries included: an upper bound, AWS does not bill every throttled request).
 */
export function measuredCostLines(
  counts: ApiCallCounts,
  lambda: { invocations: number; billedMs: number; memoryMb: number },
  events: number,
  options: CostOptions = {},
): CostLine[] {
  if (!(events > 0)) throw new RangeError('events must be positive');
  const prices = options.prices ?? loadPrices();
  const eventBytes = options.eventBytes ?? 1024;
  const sqsPrice: PriceName = (options.sqsQueueType ?? 'fifo') === 'fifo' ? 'sqsFifoRequest' : 'sqsStandardRequest';
  const line = (item: string, price: PriceName | undefined, unitsPerEvent: number, note?: string): CostLine => ({
    item,
    ...(price ? { price } : {}),
    unitsPerEvent,
    usdPerMillion: price ? usdPerMillion(prices.prices[price], unitsPerEvent) : 0,
    ...(note ? { note } : {}),
  });

  const lines: CostLine[] = [];
  for (const [key, { calls, entries }] of Object.entries(counts).sort(([a], [b]) => a.localeCompare(b))) {
    const [service = '', operation = ''] = key.split('.');
    if (service === 'EventBridge' && operation === 'PutEvents') {
      lines.push(line(`${key} entries (${chunks(eventBytes)} × 64 KB chunk each)`, 'eventBridgeCustomEvent', (entries * chunks(eventBytes)) / events, 'billed per entry, not per call'));
    } else if (service === 'SQS' && (operation === 'SendMessageBatch' || operation === 'SendMessage')) {
      const perCall = calls > 0 ? chunks((entries / calls) * eventBytes) : 1;
      lines.push(line(`${key} requests`, sqsPrice, (calls * perCall) / events, `${(calls > 0 ? entries / calls : 0).toFixed(2)} messages per request`));
    } else if (service === 'SQS') {
      lines.push(line(`${key} requests`, sqsPrice, calls / events));
    } else if (service === 'DynamoDB' && DYNAMODB_UNITS[operation]) {
      const { price, perItem } = DYNAMODB_UNITS[operation];
      lines.push(line(`${key} request units`, price, (entries * perItem) / events));
    } else if (service === 'KMS') {
      lines.push(line(`${key} requests`, 'kmsRequest', calls / events));
    } else {
      lines.push(line(`${key} calls`, undefined, calls / events, 'not priced here'));
    }
  }
  lines.push(line('Lambda requests (relay invocations)', 'lambdaRequest', lambda.invocations / events));
  const gbSeconds = (lambda.billedMs / 1000) * (lambda.memoryMb / 1024);
  lines.push(line(`Lambda duration (${lambda.memoryMb} MB, Arm): GB-s`, 'lambdaGbSecondArm', gbSeconds / events, `${(lambda.billedMs / Math.max(1, lambda.invocations)).toFixed(1)} billed ms per invocation`));
  return lines;
}

/** How many targets of each kind the measured relay published every event to (at least 1 each). */
export function targetsPerEvent(counts: ApiCallCounts, events: number): { buses: number; orderedQueues: number } {
  const entriesOf = (...keys: string[]) => keys.reduce((sum, key) => sum + (counts[key]?.entries ?? 0), 0);
  // Entries include retried ones: round down to whole targets (a retry is < 1 extra entry per event).
  const buses = Math.max(1, Math.floor(entriesOf('EventBridge.PutEvents') / events + 1e-9));
  const orderedQueues = Math.max(1, Math.floor(entriesOf('SQS.SendMessageBatch', 'SQS.SendMessage') / events + 1e-9));
  return { buses, orderedQueues };
}

/**
 * The managed alternative, modelled from the price list: one pipe DynamoDB stream → bus, and one
 * pipe stream → SQS FIFO per ordered subscriber. Pipes bills every event that passes its filter
 * (per 64 KB chunk), whatever the batch; with a source batch of b records a pipe calls the target's
 * batch API (SendMessageBatch, PutEvents ≤ 10 entries) once per batch.
 */
export function pipesCostLines(targets: { buses: number; orderedQueues: number }, options: CostOptions = {}): CostLine[] {
  const prices = options.prices ?? loadPrices();
  const eventBytes = options.eventBytes ?? 1024;
  const batch = options.pipesBatchSize ?? 10;
  if (!Number.isInteger(batch) || batch < 1 || batch > 10) throw new RangeError('pipesBatchSize must be an integer in 1..10 (SQS and event bus targets take ≤ 10 per batch)');
  const pipes = targets.buses + targets.orderedQueues;
  const line = (item: string, price: PriceName, unitsPerEvent: number, note?: string): CostLine => ({
    item,
    price,
    unitsPerEvent,
    usdPerMillion: usdPerMillion(prices.prices[price], unitsPerEvent),
    ...(note ? { note } : {}),
  });
  return [
    line(`Pipes requests (${pipes} pipe${pipes === 1 ? '' : 's'} × 1 event after filtering)`, 'eventBridgePipesRequest', pipes * chunks(eventBytes), 'billed per event, not per batch'),
    line(`EventBridge custom events put on ${targets.buses} bus${targets.buses === 1 ? '' : 'es'} by the pipe`, 'eventBridgeCustomEvent', targets.buses * chunks(eventBytes), 'same per-entry charge as a PutEvents entry'),
    line(`SQS FIFO SendMessageBatch by ${targets.orderedQueues} pipe${targets.orderedQueues === 1 ? '' : 's'} (batch of ${batch})`, 'sqsFifoRequest', (targets.orderedQueues * chunks(batch * eventBytes)) / batch),
    line(`DynamoDB Streams GetRecords by ${pipes} pipe${pipes === 1 ? '' : 's'} (one per batch of ${batch})`, 'dynamoDbStreamsReadRequestUnit', pipes / batch, 'assumed billed: the free stream reads are those of Lambda triggers'),
  ];
}

export const total = (lines: readonly CostLine[]): number => lines.reduce((sum, l) => sum + l.usdPerMillion, 0);

/** The target of issue 8: ours costs at most half of the Pipes design per million events. */
export function costTarget(ours: number, pipes: number): TargetRow {
  return { target: 'Cost per million events vs the EventBridge Pipes design', value: `$${ours.toFixed(3)} vs $${pipes.toFixed(3)} (${(ours / pipes).toFixed(2)}×)`, goal: '≤ 0.5× Pipes', met: ours <= 0.5 * pipes };
}

function priceLabel(table: PriceTable, name: PriceName | undefined): string {
  if (!name) return '–';
  const price = table.prices[name];
  if (price.per === 1) return `$${price.usd} each`;
  return `$${price.usd} / ${price.per === 1e6 ? '1M' : price.per === 1e4 ? '10k' : String(price.per)}`;
}

function linesTable(table: PriceTable, lines: readonly CostLine[]): string {
  const rows = lines.map(
    (l) => `| ${l.item} | ${priceLabel(table, l.price)} | ${l.unitsPerEvent.toFixed(4)} | $${l.usdPerMillion.toFixed(4)} | ${l.note ?? ''} |`,
  );
  return [
    '| item | unit price | units per event | $ per 1M events (= price/unit × units/event × 10⁶) | note |',
    '|---|---:|---:|---:|---|',
    ...rows,
    `| **total** | | | **$${total(lines).toFixed(4)}** | |`,
  ].join('\n');
}

/** The report section: three designs' arithmetic, the comparison, and what it leaves out. */
export function costSection(run: MeasuredRun, options: CostOptions = {}): ReportSection {
  const prices = options.prices ?? loadPrices();
  const opts = { ...options, prices };
  const ours = measuredCostLines(run.ours, run.lambda.ours, run.events, opts);
  const naive = measuredCostLines(run.naive, run.lambda.naive, run.events, opts);
  const targets = targetsPerEvent(run.ours, run.events);
  const pipes = pipesCostLines(targets, opts);
  const [oursTotal, naiveTotal, pipesTotal] = [total(ours), total(naive), total(pipes)];
  const withoutEventBridge = (lines: readonly CostLine[]) => total(lines.filter((l) => l.price !== 'eventBridgeCustomEvent'));
  const eventBytes = options.eventBytes ?? 1024;
  const batch = options.pipesBatchSize ?? 10;
  const markdown = [
    `Measured on ${run.events.toLocaleString('en-US')} events; one event ≤ ${eventBytes} bytes (one 64 KB chunk). Prices: ${prices.region} list prices from \`bench/prices.json\` (transcribed by hand from the AWS price pages; each price names its page and date). Every counted HTTP attempt is priced, retries included.`,
    '',
    '| design | $ per 1M events | excluding the EventBridge per-entry charge |',
    '|---|---:|---:|',
    `| ours (batched relay) | $${oursTotal.toFixed(4)} | $${withoutEventBridge(ours).toFixed(4)} |`,
    `| naive relay (1 PutEvents + 1 SendMessage per record) | $${naiveTotal.toFixed(4)} | $${withoutEventBridge(naive).toFixed(4)} |`,
    `| EventBridge Pipes (modelled, source batch ${batch}) | $${pipesTotal.toFixed(4)} | $${withoutEventBridge(pipes).toFixed(4)} |`,
    '',
    '#### Ours (measured)',
    '',
    linesTable(prices, ours),
    '',
    '#### Naive relay (measured)',
    '',
    linesTable(prices, naive),
    '',
    `#### EventBridge Pipes (modelled: ${targets.buses} pipe stream → bus, ${targets.orderedQueues} pipe stream → SQS FIFO per ordered subscriber)`,
    '',
    linesTable(prices, pipes),
    '',
    'Pipes model, from the AWS documentation: Pipes bills per request *after filtering*, each 64 KB chunk of payload counted as one request ([EventBridge pricing](https://aws.amazon.com/eventbridge/pricing/)) — that is per event, however the source is batched. ' +
      `When the source is batched, a pipe maps the batch onto the target's batch API, also for a batch of 1, and an SQS queue or an event bus takes at most 10 per batch ([Pipes batching and concurrency](https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-batching-concurrency.html)); the model gives Pipes its best case, a full batch of ${batch} (SendMessageBatch of ${batch}). ` +
      'A pipe has no relay Lambda to pay for. Assumptions not confirmed on a price page: events a pipe puts on a bus are billed as custom events, and the pipe\'s GetRecords on the DynamoDB stream are billed as stream read request units (only Lambda triggers\' reads are documented as free); the latter is a rounding error either way.',
    '',
    '**Where batching saves, and where it cannot.** EventBridge bills each PutEvents *entry* (per 64 KB chunk), so ten entries in one call cost what ten calls cost: the bus line is the same in all three designs and dominates them. ' +
      'Batching saves on SQS, which bills per *request* of up to 10 messages (0.1 requests per event instead of 1), on API calls (fewer round trips, fewer throttling tokens, fewer retries), and on Lambda time and invocations (one invocation publishes a whole stream batch; the naive relay spends its time waiting on one call per record). ' +
      'The design also saves outside this table: the outbox rides on the DynamoDB stream, whose reads by a Lambda trigger are free, and its items are the service\'s own event log (no second store, no Pipes, no extra copy to pay for).',
    '',
    '**What the comparison leaves out.** The toolkit\'s DynamoDB writes (the domain item and its outbox items in one TransactWriteItems, and the TTL deletes later) are the same in all three designs, since a Pipes design reads the same stream of the same table: they are not in the tables. ' +
      'Also left out: consumers (the same in every design), CloudWatch Logs ingestion of the relay\'s log lines, KMS (see the KMS section; per event it is ≈ 0 with the data-key cache), data transfer, and free tiers.',
    '',
    oursTotal <= 0.5 * pipesTotal
      ? `Ours costs ${(oursTotal / pipesTotal).toFixed(2)}× the Pipes design: the target (≤ 0.5×) is met.`
      : `Ours costs ${(oursTotal / pipesTotal).toFixed(2)}× the Pipes design: the target (≤ 0.5×) is **not met**, because the per-entry EventBridge charge ($${prices.prices.eventBridgeCustomEvent.usd} per million entries per bus) is paid by both and no batching removes it. ` +
        `Without it, ours costs $${withoutEventBridge(ours).toFixed(4)} vs $${withoutEventBridge(pipes).toFixed(4)} per million (${(withoutEventBridge(ours) / withoutEventBridge(pipes)).toFixed(2)}×). The target could only be met by not paying per entry on the fan-out path, e.g. fanning out through SQS/SNS batches instead of a bus, which gives up EventBridge rules.`,
  ].join('\n');
  return { title: 'Cost per million events', markdown, targets: [costTarget(oursTotal, pipesTotal)] };
}

/** A run with the shape of a real one, for printing this section alone. */
export const SAMPLE_RUN: MeasuredRun = {
  events: 10_000,
  ours: {
    'EventBridge.PutEvents': { calls: 1_000, entries: 10_000 },
    'SQS.SendMessageBatch': { calls: 1_000, entries: 10_000 },
  },
  naive: {
    'EventBridge.PutEvents': { calls: 10_000, entries: 10_000 },
    'SQS.SendMessage': { calls: 10_000, entries: 10_000 },
  },
  lambda: {
    ours: { invocations: 500, billedMs: 500 * 120, memoryMb: 256 },
    naive: { invocations: 500, billedMs: 500 * 900, memoryMb: 256 },
  },
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const section = costSection(SAMPLE_RUN);
  console.log(`## ${section.title} (sample run, not measured)\n\n${section.markdown}\n`);
  console.table(section.targets);
}
