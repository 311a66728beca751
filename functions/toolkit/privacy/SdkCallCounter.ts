/**
 * The part of an AWS SDK v3 client the counter needs (any client: KMS, DynamoDB, …). Structural, so
 * that this file needs no `@smithy/types`; `any` because each client's middleware has its own types.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Handler = (args: any) => Promise<any>;
export interface MiddlewareClient {
  readonly middlewareStack: {
    add(
      middleware: (next: Handler, context: { commandName?: string }) => Handler,
      options: { step: 'initialize'; name: string; priority: 'high' },
    ): void;
  };
}

let counters = 0;

/**
 * Counts an SDK client's calls per operation (`GenerateDataKey`, `Decrypt`, `GetItem`, …) and the
 * errors they ended with, by error name. A call is counted once however often the SDK retried it,
 * which is what KMS bills (throttled requests are not billed). For tests and benchmarks:
 *
 * ```ts
 * const kmsCalls = new SdkCallCounter();
 * const kms = kmsCalls.attach(new KMSClient({}));
 * ```
 */
export class SdkCallCounter {
  private readonly calls = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  private readonly name = `sdkCallCounter${++counters}`;

  /** Starts counting `client`'s calls (several clients may share one counter); returns the client. */
  attach<C extends MiddlewareClient>(client: C): C {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const operation = (context.commandName ?? 'unknown').replace(/Command$/, '');
        bump(this.calls, operation);
        try {
          return await next(args);
        } catch (error) {
          bump(this.failures, `${operation}:${error instanceof Error ? error.name : 'unknown'}`);
          throw error;
        }
      },
      { step: 'initialize', name: this.name, priority: 'high' },
    );
    return client;
  }

  /** Calls of `operation` (e.g. `Decrypt`) since the last reset. */
  count(operation: string): number {
    return this.calls.get(operation) ?? 0;
  }

  /** Calls of `operation` that failed with `errorName` (e.g. `ConditionalCheckFailedException`). */
  errors(operation: string, errorName: string): number {
    return this.failures.get(`${operation}:${errorName}`) ?? 0;
  }

  /** Calls of every operation. */
  total(): number {
    let sum = 0;
    for (const n of this.calls.values()) sum += n;
    return sum;
  }

  /** Calls per operation, sorted by name. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.calls.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  reset(): void {
    this.calls.clear();
    this.failures.clear();
  }
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}
