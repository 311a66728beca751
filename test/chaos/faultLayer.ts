/**
 * Our own fault layer, in front of microburst, for what a protocol-aware proxy cannot do because it
 * needs to know what the request meant:
 * - partial batch failures inside an HTTP 200: some PutEvents / SendMessageBatch entries are reported
 *   failed (per-entry ErrorCode / `Failed`) and stripped from the forwarded request, so they really
 *   did not happen;
 * - lost responses after the effect: the request is forwarded and takes effect, then the answer is
 *   replaced by a 5xx or the connection is destroyed, so the SDK retries and makes a real duplicate;
 * - duplicate deliveries: a successful publish is forwarded a second time (FIFO entries with a new
 *   deduplication id, so the queue cannot absorb it): the consumer must;
 * - transaction conflicts: a TransactWriteItems is answered, without being forwarded (nothing is
 *   written), with the `TransactionCanceledException` AWS sends when concurrent transactions touch
 *   one item (reason `TransactionConflict`), which the emulator never raises;
 * - late answers of saga steps: the first attempt of a chosen saga command is sent with an SQS delay
 *   past the step's timeout (the step happens late), or a chosen step's answer event is held back
 *   past it after the step took effect (the step happened in time, its answer comes late): the two
 *   halves of "a step that answers after its timer".
 * One loopback listener per routed function; every fault counted by kind, service and operation.
 * Only ever listens on, and forwards to, 127.0.0.1.
 */
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as z from 'zod';

export type LayerFaultKind = 'partial-batch' | 'lost-response' | 'duplicate' | 'conflict' | 'late-answer';

/** Answers of a held saga this soon after its first held one are its repeats: held with it. */
export const ANSWER_REPEAT_WINDOW_MS = 10_000;

/** SQS's longest per-message delay. */
export const MAX_SQS_DELAY_SECONDS = 900;

/**
 * Late answers of a saga's steps. Transfers are chosen in the order the layer first sees them: the
 * 1st, then every `every`-th, at most `max` (deterministic, so every run has some). A transfer is
 * chosen for one of the two kinds only.
 */
export interface LateAnswers {
  /** How late, in seconds: past the step's timeout (at most 900, SQS's limit). */
  readonly delaySeconds: number;
  /** SendMessage of a saga command of this `type`: its first attempt gets `DelaySeconds` (re-sends and later attempts do not). */
  readonly command?: { readonly type: string; readonly every: number; readonly max: number };
  /** PutEvents entries of this event type (the step's answer): a chosen saga's first answer (and its repeats) is held back, then published. */
  readonly answer?: { readonly eventType: string; readonly correlateBy: string; readonly every: number; readonly max: number };
}

export interface LayerRates {
  /** Per batch call: probability that some entries fail (each entry then fails with probability 1/3, at least one). */
  readonly partialBatch: number;
  /** Per effectful call (TransactWriteItems, PutEvents, SendMessage(Batch)): probability that its answer is lost. */
  readonly lostResponse: number;
  /** Per successful PutEvents / SendMessageBatch: probability that it is delivered twice. */
  readonly duplicate: number;
  /** Per TransactWriteItems: probability that it is cancelled with a `TransactionConflict` (not forwarded). */
  readonly conflict: number;
  readonly lateAnswers?: LateAnswers;
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

const TransactRequest = z.object({ TransactItems: z.array(z.unknown()).min(1) }).passthrough();
const SendMessageRequest = z.object({ QueueUrl: z.string(), MessageBody: z.string() }).passthrough();
const SagaCommand = z.object({ kind: z.literal('saga.command'), sagaId: z.string(), type: z.string(), phase: z.string(), attempt: z.number() }).passthrough();
const AnswerEnvelope = z.object({ id: z.string(), data: z.record(z.string(), z.unknown()) }).passthrough();

interface Upstream {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** What is needed to send a request upstream again later (method, path, headers). */
interface RequestLine {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: http.IncomingHttpHeaders;
}

/**
 * The body of the `TransactionCanceledException` AWS sends when a transaction conflicts with another
 * one on an item: one reason per item, in order (`None` for the others). The AWS JSON 1.0 protocol
 * names the error in `__type`; the JS SDK v3 reads `Message` and `CancellationReasons` into the
 * exception (pinned by test/unit/chaosFaultLayer.test.ts with the real DynamoDBClient).
 */
export function transactionConflictBody(itemCount: number, conflicting: number): string {
  const reasons = Array.from({ length: itemCount }, (_, i) => (i === conflicting ? { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' } : { Code: 'None' }));
  return JSON.stringify({
    __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
    Message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`,
    CancellationReasons: reasons,
  });
}

/** Chooses sagas for a late answer: the 1st seen, then every `every`-th, at most `max`. */
class Chooser {
  private readonly seen = new Set<string>();
  readonly chosen = new Set<string>();
  constructor(private readonly rule: { readonly every: number; readonly max: number }) {}
  /** Whether `key` is (now or already) chosen; `eligible` false: seen, never chosen. */
  choose(key: string, eligible = true): boolean {
    if (this.chosen.has(key)) return true;
    if (this.seen.has(key)) return false;
    const index = this.seen.size;
    this.seen.add(key);
    if (!eligible || this.chosen.size >= this.rule.max || index % Math.max(1, this.rule.every) !== 0) return false;
    this.chosen.add(key);
    return true;
  }
}

export class FaultLayer {
  private readonly servers: http.Server[] = [];
  private readonly counts = new Map<string, LayerFaultCount>();
  private readonly upstream: URL;
  private readonly delayedCommands: Chooser | undefined;
  private readonly heldAnswers: Chooser | undefined;
  /**
   * Saga id → when its first answer was held, and when it is published. Answers of that saga within
   * ANSWER_REPEAT_WINDOW_MS of the first (its copies, and the answers to a repeated delivery of the
   * same command) are held until the same time; a later answer (to a re-sent attempt, one step
   * timeout later at least) goes through.
   */
  private readonly heldAnswerOf = new Map<string, { firstAt: number; due: number }>();
  /** Held entries waiting for their time (flushed by close()). */
  private readonly pending = new Set<{ timer: NodeJS.Timeout; deliver: () => Promise<void> }>();

  constructor(
    upstream: string,
    private rates: LayerRates,
    private readonly random: () => number = Math.random,
    private readonly now: () => number = Date.now,
  ) {
    this.upstream = new URL(upstream);
    if (this.upstream.hostname !== '127.0.0.1') throw new Error(`the fault layer forwards to loopback only, not ${upstream}`);
    const late = rates.lateAnswers;
    if (late && !(late.delaySeconds > 0 && late.delaySeconds <= MAX_SQS_DELAY_SECONDS)) throw new Error(`a late answer is 1–${MAX_SQS_DELAY_SECONDS} s late, not ${late.delaySeconds}`);
    this.delayedCommands = late?.command ? new Chooser(late.command) : undefined;
    this.heldAnswers = late?.answer ? new Chooser(late.answer) : undefined;
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

  /** The sagas given a late answer so far: their commands delayed, or their answers held. */
  lateSagas(): { delayedCommands: string[]; heldAnswers: string[] } {
    return { delayedCommands: [...(this.delayedCommands?.chosen ?? [])], heldAnswers: [...(this.heldAnswers?.chosen ?? [])] };
  }

  /** Publishes what is still held (nothing is dropped), then closes every listener. */
  async close(): Promise<void> {
    const pending = [...this.pending];
    this.pending.clear();
    for (const p of pending) clearTimeout(p.timer);
    await Promise.all(pending.map((p) => p.deliver().catch(() => undefined)));
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

  private forward(req: RequestLine, body: Buffer): Promise<Upstream> {
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
    let body: Buffer = Buffer.concat(chunks);
    const target = String(req.headers['x-amz-target'] ?? '');
    const [prefix = '', operation = ''] = target.split('.');
    const service = TARGET_SERVICES[prefix];
    if (!service) return FaultLayer.reply(res, await this.forward(req, body));

    if (operation === 'TransactWriteItems' && this.rates.conflict > 0 && this.random() < this.rates.conflict) {
      const conflict = this.conflict(body);
      if (conflict) {
        this.count('conflict', service, operation);
        return FaultLayer.reply(res, conflict);
      }
    }
    if (operation === 'SendMessage' && this.delayedCommands) body = this.delayCommand(body);
    if (operation === 'PutEvents' && this.heldAnswers) {
      const held = await this.holdAnswers(req, body);
      if (held) return FaultLayer.reply(res, held.upstream, held.body);
    }
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

  /** A TransactionConflict cancellation for this TransactWriteItems (undefined: not one we can read). */
  private conflict(body: Buffer): Upstream | undefined {
    const parsed = TransactRequest.safeParse(parseJson(body));
    if (!parsed.success) return undefined;
    const items = parsed.data.TransactItems.length;
    return {
      status: 400,
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID() },
      body: Buffer.from(transactionConflictBody(items, Math.floor(this.random() * items))),
    };
  }

  /** A chosen saga's first attempt of the command type: the same request, with a delay past the step's timeout. */
  private delayCommand(body: Buffer): Buffer {
    const rule = this.rates.lateAnswers?.command;
    const request = SendMessageRequest.safeParse(parseJson(body));
    if (!rule || !request.success) return body;
    const command = SagaCommand.safeParse(parseJson(Buffer.from(request.data.MessageBody)));
    if (!command.success || command.data.type !== rule.type || command.data.phase !== 'forward' || command.data.attempt !== 1) return body;
    const fresh = !this.delayedCommands!.chosen.has(command.data.sagaId);
    if (!this.delayedCommands!.choose(command.data.sagaId)) return body;
    if (fresh) this.count('late-answer', 'sqs', `SendMessage ${rule.type} +${this.rates.lateAnswers!.delaySeconds} s`);
    return Buffer.from(JSON.stringify({ ...request.data, DelaySeconds: this.rates.lateAnswers!.delaySeconds }));
  }

  /**
   * Holds a chosen saga's answer event back: the other entries are forwarded now, the held ones are
   * reported published (they will be) and published after the delay. Undefined: nothing to hold.
   */
  private async holdAnswers(req: http.IncomingMessage, body: Buffer): Promise<{ upstream: Upstream; body: Buffer } | undefined> {
    const rule = this.rates.lateAnswers?.answer;
    const parsed = PutEventsRequest.safeParse(parseJson(body));
    if (!rule || !parsed.success) return undefined;
    const entries = parsed.data.Entries;
    const held = entries.map((entry) => {
      if (entry.DetailType !== rule.eventType || typeof entry.Detail !== 'string') return undefined;
      const envelope = AnswerEnvelope.safeParse(parseJson(Buffer.from(entry.Detail)));
      const sagaId = envelope.success ? envelope.data.data[rule.correlateBy] : undefined;
      if (!envelope.success || typeof sagaId !== 'string') return undefined;
      // A saga whose command was delayed answers late already: not chosen twice.
      if (!this.heldAnswers!.choose(sagaId, !this.delayedCommands?.chosen.has(sagaId))) return undefined;
      const first = this.heldAnswerOf.get(sagaId);
      return first === undefined || this.now() - first.firstAt < ANSWER_REPEAT_WINDOW_MS ? { sagaId } : undefined;
    });
    if (!held.some(Boolean)) return undefined;

    const rest = entries.filter((_, i) => !held[i]);
    const upstream: Upstream = rest.length > 0
      ? await this.forward(req, Buffer.from(JSON.stringify({ ...parsed.data, Entries: rest })))
      : { status: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: Buffer.from('{"FailedEntryCount":0,"Entries":[]}') };
    if (upstream.status !== 200) return { upstream, body: upstream.body }; // the SDK retries the whole call; nothing held yet
    const got = PutEventsResponse.parse(parseJson(upstream.body) ?? {});
    let next = 0;
    const merged = entries.map((_, i) => (held[i] ? { EventId: randomUUID() } : got.Entries[next++] ?? {}));
    const line: RequestLine = { method: req.method, url: req.url, headers: { ...req.headers } };
    for (const [i, h] of held.entries()) {
      if (!h) continue;
      let first = this.heldAnswerOf.get(h.sagaId);
      if (!first) {
        first = { firstAt: this.now(), due: this.now() + this.rates.lateAnswers!.delaySeconds * 1000 };
        this.heldAnswerOf.set(h.sagaId, first);
        this.count('late-answer', 'events', `PutEvents ${rule.eventType} held ${this.rates.lateAnswers!.delaySeconds} s`);
      }
      this.publishLater(line, parsed.data, entries[i]!, first.due);
    }
    return { upstream, body: Buffer.from(JSON.stringify({ ...got, Entries: merged })) };
  }

  /** Publishes one held entry at `due`, retrying what the fault chain fails (it must not be lost). */
  private publishLater(line: RequestLine, request: Record<string, unknown>, entry: Record<string, unknown>, due: number): void {
    const deliver = async () => {
      for (let attempt = 1; attempt <= 20; attempt++) {
        const answer = await this.forward(line, Buffer.from(JSON.stringify({ ...request, Entries: [entry] }))).catch(() => undefined);
        const parsed = answer?.status === 200 ? PutEventsResponse.safeParse(parseJson(answer.body) ?? {}) : undefined;
        if (parsed?.success && parsed.data.FailedEntryCount === 0) return;
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 250 * attempt)));
      }
    };
    const item = { timer: setTimeout(() => {
      this.pending.delete(item);
      void deliver();
    }, Math.max(0, due - this.now())), deliver };
    this.pending.add(item);
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

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The same batch with new FIFO deduplication ids, so the queue delivers it again. */
function rededuplicate(body: Buffer): Buffer {
  const parsed = SendBatchRequest.safeParse(JSON.parse(body.toString('utf8')));
  if (!parsed.success) return body;
  const entries = parsed.data.Entries.map((e) => (typeof e.MessageDeduplicationId === 'string' ? { ...e, MessageDeduplicationId: `${e.MessageDeduplicationId}-chaos-dup` } : e));
  return Buffer.from(JSON.stringify({ ...parsed.data, Entries: entries }));
}
