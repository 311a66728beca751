/**
 * AWS API calls per invocation: a middleware on every SDK client counts each HTTP attempt (SDK
 * retries included, which is what quotas, latency and most bills see) per `Service.Operation`, and
 * the entries batch operations carried; the toolkit's handler wrappers publish the counts as one
 * structured log line at the end of each invocation (`withApiCallLog`). Keys and counts only: no
 * payloads, no personal data.
 */

// What the counter adds to an SDK client's middleware stack. Structural, so this file needs no
// `@smithy/types`; the handler arguments are opaque here (each client has its own types).
type Next = (args: { readonly input?: unknown }) => Promise<unknown>;
type Middleware = (next: Next, context: { readonly clientName?: string; readonly commandName?: string }) => Next;
interface DeserializeStack {
  add(middleware: Middleware, options: { step: 'deserialize'; name: string }): void;
}
/** Any AWS SDK v3 client (its `middlewareStack.add` is overloaded per step, hence the loose shape). */
export interface InstrumentableClient {
  readonly middlewareStack: { add: (...args: never[]) => void };
}

export interface ApiCallTally {
  calls: number;
  entries: number;
}
export type ApiCallCounts = Record<string, ApiCallTally>;

/** The log line's `message`: what the benchmark filters on. */
export const API_CALLS_LOG_MESSAGE = 'aws api calls';

/** `DynamoDBClient` + `PutItemCommand` → `DynamoDB.PutItem`. */
export function operationKey(clientName: string | undefined, commandName: string | undefined): string {
  const service = (clientName ?? 'Unknown').replace(/Client$/, '');
  const operation = (commandName ?? 'Unknown').replace(/Command$/, '');
  return `${service}.${operation}`;
}

/**
 * How many entries one request carries: the length of `Entries` (PutEvents, SendMessageBatch,
 * DeleteMessageBatch, …), of `TransactItems`, or the items of `RequestItems` (BatchWriteItem,
 * BatchGetItem); 1 for a single-item operation.
 */
export function entriesOf(input: unknown): number {
  if (typeof input !== 'object' || input === null) return 1;
  const fields = input as Record<string, unknown>;
  if (Array.isArray(fields.Entries)) return fields.Entries.length;
  if (Array.isArray(fields.TransactItems)) return fields.TransactItems.length;
  if (typeof fields.RequestItems === 'object' && fields.RequestItems !== null) {
    let sum = 0;
    for (const perTable of Object.values(fields.RequestItems)) {
      if (Array.isArray(perTable)) sum += perTable.length;
      else if (typeof perTable === 'object' && perTable !== null && Array.isArray((perTable as { Keys?: unknown }).Keys)) sum += (perTable as { Keys: unknown[] }).Keys.length;
    }
    return sum;
  }
  return 1;
}

/** Counts of one process (a Lambda environment runs one invocation at a time). */
export class ApiCallCounter {
  private counts = new Map<string, ApiCallTally>();

  constructor(private readonly write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)) {}

  record(key: string, entries: number): void {
    const tally = this.counts.get(key) ?? { calls: 0, entries: 0 };
    tally.calls += 1;
    tally.entries += entries;
    this.counts.set(key, tally);
  }

  /** The counts so far, sorted by key. */
  snapshot(): ApiCallCounts {
    return Object.fromEntries([...this.counts.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([key, tally]) => [key, { ...tally }]));
  }

  /** Returns the counts so far and starts again from zero. */
  drain(): ApiCallCounts {
    const counts = this.snapshot();
    this.counts = new Map();
    return counts;
  }

  /** Writes one log line with the counts since the last flush, if any call was made; then resets. */
  flush(): void {
    const apiCalls = this.drain();
    if (Object.keys(apiCalls).length === 0) return;
    this.write(JSON.stringify({ level: 'INFO', message: API_CALLS_LOG_MESSAGE, timestamp: new Date().toISOString(), apiCalls }));
  }
}

/** The process-wide counter every instrumented client reports to. */
export const apiCalls = new ApiCallCounter();

const MIDDLEWARE_NAME = 'toolkitApiCallCounter';
const instrumented = new WeakMap<object, ApiCallCounter>();

/**
 * Counts every HTTP attempt of `client` (in the deserialize step, which runs once per attempt inside
 * the SDK's retry loop) into `counter`; returns the client. Instrumenting a client twice (or a
 * document client sharing its stack) counts once.
 *
 * ```ts
 * const dynamodb = instrument(new DynamoDBClient({}));
 * ```
 */
export function instrument<C extends InstrumentableClient>(client: C, counter: ApiCallCounter = apiCalls): C {
  // The SDK's `add` overload for the deserialize step has exactly this shape.
  const stack = client.middlewareStack as unknown as DeserializeStack;
  if (instrumented.has(stack)) return client;
  instrumented.set(stack, counter);
  stack.add(
    (next, context) => async (args) => {
      counter.record(operationKey(context.clientName, context.commandName), entriesOf(args.input));
      return next(args);
    },
    { step: 'deserialize', name: MIDDLEWARE_NAME },
  );
  return client;
}

/**
 * Wraps a Lambda handler so that the API calls it made are logged once, at the end of each
 * invocation (also when it throws). Nested wrappers are harmless: an empty counter logs nothing.
 */
export function withApiCallLog<A extends unknown[], R>(handler: (...args: A) => Promise<R>, counter: ApiCallCounter = apiCalls): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await handler(...args);
    } finally {
      counter.flush();
    }
  };
}
