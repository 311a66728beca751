/**
 * The two things the bench reads from CloudWatch Logs (FilterLogEvents, JSON 1.1 protocol, SigV4),
 * without adding the CloudWatch Logs SDK client to the project for one call: the functions' "aws api
 * calls" lines and the Lambda REPORT lines (invocations, billed duration, memory).
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import * as z from 'zod';
import type { ApiCallCounts } from './sections/types';

type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: SourceData): string | Uint8Array =>
  typeof data === 'string' ? data : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);

/** node:crypto behind the interface SigV4 expects. */
class Sha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

const FilterResponseSchema = z.object({
  events: z.array(z.object({ timestamp: z.number(), message: z.string() })).default([]),
  nextToken: z.string().nullish(),
});
export interface LogEvent {
  timestamp: number;
  message: string;
}

export interface LogsClientOptions {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export class CloudWatchLogsReader {
  private readonly signer: SignatureV4;
  private readonly url: URL;

  constructor(private readonly options: LogsClientOptions) {
    this.url = new URL(options.endpoint);
    this.signer = new SignatureV4({
      service: 'logs',
      region: options.region,
      credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
      sha256: Sha256,
    });
  }

  /** Every event of `logGroupName` in [startTime, endTime] matching `filterPattern`, all pages. */
  async filter(logGroupName: string, filterPattern: string, startTime: number, endTime: number): Promise<LogEvent[]> {
    const events: LogEvent[] = [];
    let nextToken: string | undefined;
    do {
      const body = JSON.stringify({ logGroupName, filterPattern, startTime, endTime, ...(nextToken ? { nextToken } : {}) });
      const signed = await this.signer.sign({
        method: 'POST',
        protocol: this.url.protocol,
        hostname: this.url.hostname,
        ...(this.url.port ? { port: Number(this.url.port) } : {}),
        path: '/',
        headers: { host: this.url.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Logs_20140328.FilterLogEvents' },
        body,
      });
      const response = await fetch(new URL('/', this.url), { method: 'POST', headers: signed.headers, body });
      const text = await response.text();
      if (!response.ok) throw new Error(`FilterLogEvents on ${logGroupName} failed: HTTP ${response.status} ${text.slice(0, 300)}`);
      const page = FilterResponseSchema.parse(JSON.parse(text));
      events.push(...page.events);
      nextToken = page.nextToken ?? undefined;
    } while (nextToken);
    return events;
  }
}

const ApiCallsLineSchema = z.object({
  message: z.literal('aws api calls'),
  apiCalls: z.record(z.string(), z.object({ calls: z.number().int().nonnegative(), entries: z.number().int().nonnegative() })),
});

/** Sums the "aws api calls" lines (one per invocation) into counts per `Service.Operation`. */
export function sumApiCalls(events: readonly LogEvent[]): { counts: ApiCallCounts; lines: number } {
  const counts: ApiCallCounts = {};
  let lines = 0;
  for (const event of events) {
    const start = event.message.indexOf('{');
    if (start < 0) continue;
    let parsed: z.infer<typeof ApiCallsLineSchema>;
    try {
      parsed = ApiCallsLineSchema.parse(JSON.parse(event.message.slice(start)));
    } catch {
      continue; // another line that mentions the phrase
    }
    lines += 1;
    for (const [key, tally] of Object.entries(parsed.apiCalls)) {
      const sum = (counts[key] ??= { calls: 0, entries: 0 });
      sum.calls += tally.calls;
      sum.entries += tally.entries;
    }
  }
  return { counts, lines };
}

/** Invocations, billed milliseconds and memory from Lambda REPORT lines. */
export function sumReports(events: readonly LogEvent[]): { invocations: number; billedMs: number; memoryMb: number } {
  let invocations = 0;
  let billedMs = 0;
  let memoryMb = 0;
  for (const { message } of events) {
    if (!message.startsWith('REPORT ')) continue;
    invocations += 1;
    const billed = /Billed Duration: ([\d.]+) ms/.exec(message) ?? /\bDuration: ([\d.]+) ms/.exec(message);
    if (billed) billedMs += Math.ceil(Number(billed[1]));
    const memory = /Memory Size: (\d+) MB/.exec(message);
    if (memory) memoryMb = Number(memory[1]);
  }
  return { invocations, billedMs, memoryMb };
}
