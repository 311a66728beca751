/**
 * Our own fault layer, in front of microburst, for what a protocol-aware proxy cannot do because it
 * needs to know what the request meant:
 * - partial batch failures inside an HTTP 200: some PutEvents / SendMessageBatch entries are reported
 *   failed (per-entry ErrorCode / `Failed`) and stripped from the forwarded request, so they really
 *   did not happen;
 * - lost responses after the effect: the request is forwarded and takes effect, then the answer is
 *   replaced by a 5xx or the connection is destroyed, so the SDK retries and makes a real duplicate;
 * - duplicate deliveries: a successful publish is forwarded a second time (FIFO entries with a new
 *   deduplication id, so the queue cannot absorb it): the consumer must.
 * One loopback listener per routed function (so rules can differ per function); every fault counted
 * by kind, service and operation. Only ever listens on, and forwards to, 127.0.0.1.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as z from 'zod';

export type LayerFaultKind = 'partial-batch' | 'lost-response' | 'duplicate';

export interface LayerRates {
  /** Per batch call: probability that some entries fail (each entry then fails with probability 1/3, at least one). */
  readonly partialBatch: number;
  /** Per effectful call (TransactWriteItems, PutEvents, SendMessage(Batch)): probability that its answer is lost. */
  readonly lostResponse: number;
  /** Per successful PutEvents / SendMessageBatch: probability that it is delivered twice. */
  readonly duplicate: number;
}

export interface LayerFaultCount {
  readonly kind: LayerFaultKind;
  readonly service: string;
  readonly operation: string;
  count: number;
}

const TARGET_SERVICES: Readonly<Record<string, string>> = { DynamoDB_20120810: 'dynamodb', AWSEvents: 'events', AmazonSQS: 'sqs', TrentService: 'kms' };
const LOSABLE = new Set(['TransactWriteItems', 'PutEvents', 'SendMessage', 'SendMessageBatch']);

const PutEventsRequest = z.object({ Entries: z.array(z.record(z.string(), z.unknown())) }).passthrough();
const PutEventsResponse = z.object({ FailedEntryCount: z.number().default(0), Entries: z.array(z.record(z.string(), z.unknown())).default([]) }).passthrough();
const SendBatchRequest = z.object({ QueueUrl: z.string(), Entries: z.array(z.object({ Id: z.string() }).passthrough()) }).passthrough();
const SendBatchResponse = z.object({ Successful: z.array(z.unknown()).default([]), Failed: z.array(z.unknown()).default([]) }).passthrough();

interface Upstream {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

export class FaultLayer {
  private readonly servers: http.Server[] = [];
  private readonly counts = new Map<string, LayerFaultCount>();
  private readonly upstream: URL;

  constructor(
    upstream: string,
    private rates: LayerRates,
    private readonly random: () => number = Math.random,
  ) {
    this.upstream = new URL(upstream);
    if (this.upstream.hostname !== '127.0.0.1') throw new Error(`the fault layer forwards to loopback only, not ${upstream}`);
  }

  setRates(rates: LayerRates): void {
    this.rates = rates;
  }

  /** Opens one listener (for one function, or a test); returns its endpoint URL. */
  async listen(): Promise<string> {
    const server = http.createServer({ keepAlive: true }, (req, res) => void this.handle(req, res).catch(() => res.destroy()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  faults(): LayerFaultCount[] {
    return [...this.counts.values()];
  }

  async close(): Promise<void> {
    await Promise.all(
      this.servers.map((server) => {
        server.closeAllConnections();
        return new Promise<void>((resolve) => server.close(() => resolve()));
      }),
    );
  }

  private count(kind: LayerFaultKind, service: string, operation: string): void {
    const key = `${kind}|${service}|${operation}`;
    const entry = this.counts.get(key) ?? { kind, service, operation, count: 0 };
    entry.count++;
    this.counts.set(key, entry);
  }

  private forward(req: http.IncomingMessage, body: Buffer): Promise<Upstream> {
    const headers = { ...req.headers, host: this.upstream.host, 'content-length': String(body.length) };
    return new Promise((resolve, reject) => {
      const request = http.request({ host: this.upstream.hostname, port: this.upstream.port, method: req.method, path: req.url, headers }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 502, headers: response.headers, body: Buffer.concat(chunks) }));
        response.on('error', reject);
      });
      request.on('error', reject);
      request.end(body);
    });
  }

  private static reply(res: http.ServerResponse, upstream: Upstream, body: Buffer = upstream.body): void {
    const headers: http.OutgoingHttpHeaders = { ...upstream.headers, 'content-length': String(body.length) };
    delete headers['transfer-encoding'];
    delete headers['content-encoding'];
    delete headers['x-amz-crc32']; // the body may have changed; the SDK checks this one when present
    res.writeHead(upstream.status, headers);
    res.end(body);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const target = String(req.headers['x-amz-target'] ?? '');
    const [prefix = '', operation = ''] = target.split('.');
    const service = TARGET_SERVICES[prefix];
    if (!service) return FaultLayer.reply(res, await this.forward(req, body));

    if (operation === 'PutEvents' || operation === 'SendMessageBatch') {
      const partial = this.random() < this.rates.partialBatch ? await this.partialBatch(req, body, service, operation) : undefined;
      if (partial) return FaultLayer.reply(res, partial.upstream, partial.body);
    }
    const upstream = await this.forward(req, body);
    if (upstream.status === 200 && LOSABLE.has(operation) && this.random() < this.rates.lostResponse) {
      this.count('lost-response', service, operation);
      // Half the time the connection dies, half the time a 5xx: both after the effect.
      if (this.random() < 0.5) {
        res.destroy();
        return;
      }
      return FaultLayer.reply(res, { status: 500, headers: { 'content-type': String(upstream.headers['content-type'] ?? 'application/x-amz-json-1.1') }, body: Buffer.alloc(0) }, Buffer.from(JSON.stringify({ __type: 'InternalFailure', message: 'chaos: the response was lost after the request took effect' })));
    }
    if (upstream.status === 200 && (operation === 'PutEvents' || operation === 'SendMessageBatch') && this.random() < this.rates.duplicate) {
      const again = operation === 'SendMessageBatch' ? rededuplicate(body) : body;
      const second = await this.forward(req, again).catch(() => undefined);
      if (second?.status === 200) this.count('duplicate', service, operation);
    }
    FaultLayer.reply(res, upstream);
  }

  /** Forwards only some entries; reports the others failed inside an HTTP 200. */
  private async partialBatch(req: http.IncomingMessage, body: Buffer, service: string, operation: string): Promise<{ upstream: Upstream; body: Buffer } | undefined> {
    const json: unknown = JSON.parse(body.toString('utf8'));
    const Request = operation === 'PutEvents' ? PutEventsRequest : SendBatchRequest;
    const parsed = Request.safeParse(json);
    if (!parsed.success || parsed.data.Entries.length === 0) return undefined;
    const entries = parsed.data.Entries as Record<string, unknown>[];
    const failing = entries.map(() => this.random() < 1 / 3);
    if (!failing.some(Boolean)) failing[Math.floor(this.random() * entries.length)] = true;
    const kept = entries.filter((_, i) => !failing[i]);
    const upstream: Upstream = kept.length > 0
      ? await this.forward(req, Buffer.from(JSON.stringify({ ...parsed.data, Entries: kept })))
      : { status: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: Buffer.from(operation === 'PutEvents' ? '{"FailedEntryCount":0,"Entries":[]}' : '{"Successful":[],"Failed":[]}') };
    if (upstream.status !== 200) return { upstream, body: upstream.body };
    const answer: unknown = JSON.parse(upstream.body.toString('utf8') || '{}');
    let merged: unknown;
    if (operation === 'PutEvents') {
      const got = PutEventsResponse.parse(answer);
      let next = 0;
      const all = entries.map((_, i) => (failing[i] ? { ErrorCode: 'ThrottlingException', ErrorMessage: 'chaos: entry failed inside a 200' } : got.Entries[next++] ?? {}));
      merged = { ...got, FailedEntryCount: all.filter((e) => 'ErrorCode' in e).length, Entries: all };
    } else {
      const got = SendBatchResponse.parse(answer);
      const ours = entries.filter((_, i) => failing[i]).map((e) => ({ Id: String(e.Id), SenderFault: false, Code: 'InternalError', Message: 'chaos: entry failed inside a 200' }));
      merged = { ...got, Failed: [...got.Failed, ...ours] };
    }
    for (const _ of failing.filter(Boolean)) this.count('partial-batch', service, operation);
    return { upstream, body: Buffer.from(JSON.stringify(merged)) };
  }
}

/** The same batch with new FIFO deduplication ids, so the queue delivers it again. */
function rededuplicate(body: Buffer): Buffer {
  const parsed = SendBatchRequest.safeParse(JSON.parse(body.toString('utf8')));
  if (!parsed.success) return body;
  const entries = parsed.data.Entries.map((e) => (typeof e.MessageDeduplicationId === 'string' ? { ...e, MessageDeduplicationId: `${e.MessageDeduplicationId}-chaos-dup` } : e));
  return Buffer.from(JSON.stringify({ ...parsed.data, Entries: entries }));
}
