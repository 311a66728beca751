/**
 * Report section: KMS calls per event with the toolkit's data-key cache, and without it, measured
 * against the local cloud's KMS and DynamoDB through the real privacy runtime (PersonalDataSealer →
 * KmsKeyVault), counted by SdkCallCounter on the clients the vault uses.
 *
 * Run alone (the local cloud must be up: `npx tsx localstack/cli.ts start`):
 * `npx tsx bench/sections/kms.ts [--events 2000] [--subjects 100]`
 */
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { CreateKeyCommand, KMSClient, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { KmsKeyVault, PersonalDataSealer, SdkCallCounter } from '../../functions/toolkit/privacy';
import { cloudEnv, isHealthy } from '../../localstack/cloud';
import type { ReportSection, TargetRow } from './types';

export const KmsOptionsSchema = z.object({
  /** Events, each sealed by one container (writer) and opened by another (reader). */
  events: z.number().int().positive().default(2_000),
  /** Subjects the events are spread over, round robin. */
  subjects: z.number().int().positive().default(100),
  /** Events in flight at once (never two of one subject in one wave). */
  concurrency: z.number().int().positive().default(25),
});
export type KmsOptions = z.input<typeof KmsOptionsSchema>;

/** Calls per operation, whole run and after the first pass over the subjects. */
export interface KmsRunResult {
  readonly mode: 'cache' | 'no cache';
  readonly events: number;
  readonly steadyEvents: number;
  readonly kms: { readonly whole: Record<string, number>; readonly steady: Record<string, number> };
  readonly dynamodb: { readonly whole: Record<string, number>; readonly steady: Record<string, number> };
  readonly seconds: number;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;

/** Points the SDK at the local cloud (unless already pointed) and refuses anything but loopback. */
function useLocalCloud(): string {
  if (!process.env.AWS_ENDPOINT_URL) Object.assign(process.env, cloudEnv());
  const endpoint = process.env.AWS_ENDPOINT_URL ?? '';
  if (!LOOPBACK.test(new URL(endpoint).hostname)) throw new Error(`kmsSection runs only against a local cloud on a loopback address, not ${endpoint}`);
  return endpoint;
}

/**
 * A clock that moves 1 ms forward every time it is read. With a 1 ms maximum key age it makes every
 * cached key stale by the next lookup: the "no cache" run, without changing the privacy code
 * (DataKeyCache rejects `maxEntries: 0` and `maxAgeSeconds: 0` by design).
 */
export function tickingClock(start = Date.now()): () => Date {
  let now = start;
  return () => new Date((now += 1));
}

const diff = (after: Record<string, number>, before: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.entries(after).map(([op, n]) => [op, n - (before[op] ?? 0)]).filter(([, n]) => (n as number) > 0));
const sum = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

async function runMode(
  mode: KmsRunResult['mode'],
  options: z.output<typeof KmsOptionsSchema>,
  env: { keyTable: string; cmkArn: string; runId: string },
): Promise<KmsRunResult> {
  const kmsCalls = new SdkCallCounter();
  const ddbCalls = new SdkCallCounter();
  /** One Lambda container: its own clients (counted), vault and cache. */
  const container = () => {
    const vault = new KmsKeyVault({
      mode: 'envelope',
      keyArn: env.cmkArn,
      tableName: env.keyTable,
      kms: kmsCalls.attach(new KMSClient({})),
      dynamodb: ddbCalls.attach(new DynamoDBClient({})),
    });
    return mode === 'cache'
      ? new PersonalDataSealer({ vault }) // the defaults a handler gets: 1,000 keys for 300 s, tombstone check every 5 s
      : new PersonalDataSealer({ vault, cache: { maxEntries: 1, maxAgeSeconds: 0.001 }, clock: tickingClock() });
  };
  const [writer, reader] = [container(), container()];
  const subjects = Array.from({ length: options.subjects }, (_, i) => `bench-${env.runId}-${mode === 'cache' ? 'c' : 'n'}${i}`);

  const started = performance.now();
  let firstPass: { kms: Record<string, number>; ddb: Record<string, number> } | undefined;
  let done = 0;
  while (done < options.events) {
    // One wave: the next event of each subject (at most one per subject in flight), in slices.
    const wave = subjects.slice(0, Math.min(subjects.length, options.events - done));
    for (let i = 0; i < wave.length; i += options.concurrency) {
      await Promise.all(
        wave.slice(i, i + options.concurrency).map(async (subject, j) => {
          const plain = `${subject}+${done + i + j}@example.invalid`;
          const sealed = await writer.seal(subject, 'customer.email', plain);
          const opened = await reader.open(sealed, 'customer.email');
          if (opened !== plain) throw new Error('kms bench: a sealed value did not open to what was sealed');
        }),
      );
    }
    done += wave.length;
    if (!firstPass) firstPass = { kms: kmsCalls.snapshot(), ddb: ddbCalls.snapshot() };
  }
  const seconds = (performance.now() - started) / 1000;
  const first = firstPass ?? { kms: {}, ddb: {} };
  return {
    mode,
    events: options.events,
    steadyEvents: Math.max(0, options.events - options.subjects),
    kms: { whole: kmsCalls.snapshot(), steady: diff(kmsCalls.snapshot(), first.kms) },
    dynamodb: { whole: ddbCalls.snapshot(), steady: diff(ddbCalls.snapshot(), first.ddb) },
    seconds,
  };
}

/** Measures both modes on a fresh key table and service CMK (removed afterwards). */
export async function measureKms(input: KmsOptions = {}): Promise<KmsRunResult[]> {
  const options = KmsOptionsSchema.parse(input);
  const endpoint = useLocalCloud();
  if (!(await isHealthy(endpoint))) throw new Error(`the local cloud at ${endpoint} is not up: start it with \`npx tsx localstack/cli.ts start\``);
  const admin = { kms: new KMSClient({}), ddb: new DynamoDBClient({}) };
  const runId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const keyTable = `bench-privacy-keys-${runId}`;
  const created = await admin.kms.send(new CreateKeyCommand({ Description: 'bench: privacy service CMK (KMS calls per event)' }));
  const cmkArn = created.KeyMetadata?.Arn;
  if (!cmkArn) throw new Error('CreateKey returned no key ARN');
  try {
    await admin.ddb.send(
      new CreateTableCommand({
        TableName: keyTable,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'subject', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'subject', KeyType: 'HASH' }],
      }),
    );
    await waitUntilTableExists({ client: admin.ddb, maxWaitTime: 60 }, { TableName: keyTable });
    const results: KmsRunResult[] = [];
    for (const mode of ['cache', 'no cache'] as const) results.push(await runMode(mode, options, { keyTable, cmkArn, runId }));
    return results;
  } finally {
    await admin.ddb.send(new DeleteTableCommand({ TableName: keyTable })).catch(() => undefined);
    await admin.kms.send(new ScheduleKeyDeletionCommand({ KeyId: cmkArn, PendingWindowInDays: 7 })).catch(() => undefined);
  }
}

export const KMS_STEADY_TARGET = 0.01;

/** The target row: KMS calls per event with the cache, after the first pass over the subjects. */
export function kmsTarget(result: KmsRunResult): TargetRow {
  const perEvent = result.steadyEvents > 0 ? sum(result.kms.steady) / result.steadyEvents : Number.NaN;
  return {
    target: 'KMS calls per event, steady state (data-key cache)',
    value: Number.isNaN(perEvent) ? 'n/a (no events after the first pass)' : perEvent.toFixed(4),
    goal: `≤ ${KMS_STEADY_TARGET}`,
    met: perEvent <= KMS_STEADY_TARGET,
  };
}

/** The markdown of the section, from measured results (pure: unit-testable). */
export function kmsMarkdown(results: readonly KmsRunResult[], options: z.output<typeof KmsOptionsSchema>): string {
  const operations = [...new Set(results.flatMap((r) => [...Object.keys(r.kms.whole), ...Object.keys(r.dynamodb.whole)].map((op) => `${Object.hasOwn(r.kms.whole, op) ? 'KMS' : 'DynamoDB'}.${op}`)))].sort();
  const per = (n: number, events: number) => (events > 0 ? (n / events).toFixed(4) : 'n/a');
  const rows = operations.map((key) => {
    const [service, op = ''] = key.split('.');
    const cells = results.map((r) => {
      const counts = service === 'KMS' ? r.kms : r.dynamodb;
      return `${per(counts.whole[op] ?? 0, r.events)} | ${per(counts.steady[op] ?? 0, r.steadyEvents)}`;
    });
    return `| ${key} | ${cells.join(' | ')} |`;
  });
  const kmsRow = `| **KMS, all operations** | ${results.map((r) => `**${per(sum(r.kms.whole), r.events)}** | **${per(sum(r.kms.steady), r.steadyEvents)}**`).join(' | ')} |`;
  const header = `| calls per event | ${results.map((r) => `${r.mode}: whole run | ${r.mode}: steady state`).join(' | ')} |`;
  const cached = results.find((r) => r.mode === 'cache');
  return [
    `${options.events.toLocaleString('en-US')} events over ${options.subjects} subjects, each event = one personal field sealed by one container (\`PersonalDataSealer.seal\`) and opened by another (\`open\`), as a writer Lambda and a consumer Lambda would; two containers, so two cold caches. ` +
      `Real KMS (\`GenerateDataKey\`, \`Decrypt\`) and DynamoDB key-table calls on the local cloud, counted on the vault's clients by \`SdkCallCounter\` (once per call). Steady state = after the first pass over the subjects (the last ${(cached?.steadyEvents ?? 0).toLocaleString('en-US')} events).`,
    '',
    header,
    `|---|${results.map(() => '---:|---:').join('|')}|`,
    ...rows,
    kmsRow,
    '',
    `Wall time: ${results.map((r) => `${r.mode} ${r.seconds.toFixed(1)} s`).join(', ')} (local cloud; not a target).`,
    '',
    '"cache" is the sealer as handlers build it (`DataKeyCache` of 1,000 keys for 300 s; a cached key is re-confirmed against the key table\'s tombstone with one `GetItem` at most every 5 s per subject, never KMS). ' +
      '"no cache" is the same sealer whose cached keys are always stale (1 ms maximum age and a clock that advances 1 ms per reading: `DataKeyCache` refuses a size or age of 0, and no privacy code was changed for the bench): every seal and every open loads the key from the vault, one `GetItem` and one KMS call each.',
    '',
    'With the cache, KMS is called once per subject per container (a `GenerateDataKey` for the subject\'s first seal, a `Decrypt` in every other container) and then not again until the key ages out: in steady state a container calls KMS about once per active subject per 300 s, i.e. ≈ active subjects / (events per second × 300) calls per event. The whole-run figure is dominated by that first pass (2 calls per subject here, over ' +
      `${(options.events / options.subjects).toFixed(0)} events per subject).`,
    '',
    `This run is short (seconds), so no key aged out in it. Over hours, the expiry sets the steady-state rate — a model, not a measurement: with ${options.subjects} active subjects and 2 containers,`,
    '',
    '| events per second | KMS calls per event (≈ 2 × subjects / (rate × 300 s)) |',
    '|---:|---:|',
    ...[10, 50, 100, 500].map((rate) => `| ${rate} | ${((2 * options.subjects) / (rate * 300)).toFixed(4)} |`),
    '',
    `so the ≤ ${KMS_STEADY_TARGET} target holds from about ${Math.ceil((2 * options.subjects) / (KMS_STEADY_TARGET * 300))} events per second for this many subjects; below that, KMS costs are tiny in absolute terms (a few calls per subject per 5 minutes).`,
  ].join('\n');
}

/** The report section (measures against the local cloud: needs it up). */
export async function kmsSection(input: KmsOptions = {}): Promise<ReportSection> {
  const options = KmsOptionsSchema.parse(input);
  const results = await measureKms(options);
  const cached = results.find((r) => r.mode === 'cache');
  if (!cached) throw new Error('kms bench: the cached run is missing');
  return { title: 'KMS calls per event', markdown: kmsMarkdown(results, options), targets: [kmsTarget(cached)] };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { events: { type: 'string' }, subjects: { type: 'string' } } });
  const section = await kmsSection({
    ...(values.events ? { events: Number(values.events) } : {}),
    ...(values.subjects ? { subjects: Number(values.subjects) } : {}),
  });
  console.log(`## ${section.title}\n\n${section.markdown}\n`);
  console.table(section.targets);
}
