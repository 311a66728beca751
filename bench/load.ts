// The load: events committed through the toolkit's Outbox at an offered rate, and the floor's items.
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Outbox } from '../functions/toolkit/outbox';
import { BENCH_EVENT_TYPE } from './benchNames';

export interface LoadPhase {
  /** Unique in the run; also the results' partition key (prefixed with the run id). */
  readonly name: string;
  readonly events: number;
  /** Offered load in events per second; `undefined`: unpaced (as fast as the writers go). */
  readonly ratePerSecond?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `task(i)` for i in [0, count) with at most `concurrency` in flight, each started no earlier
 * than `start + i / rate` (no pacing without a rate). Returns when all are done; a failed task fails it.
 */
export async function paced(count: number, options: { ratePerSecond?: number; concurrency: number }, task: (i: number) => Promise<void>): Promise<void> {
  const start = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      if (options.ratePerSecond) {
        const due = start + (i * 1000) / options.ratePerSecond;
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
      }
      await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, count) }, worker));
}

/**
 * Commits `phase.events` events over `keys` partition keys (aggregates `<runId>-k<j>`), one event
 * per commit, through `Outbox.commit` by several concurrent writers. Commits of one key are chained,
 * so each knows its aggregate's version (no conflicts; per-key order is the commit order).
 */
export class LoadWriter {
  private readonly versions = new Map<string, number>();
  private readonly chains = new Map<string, Promise<void>>();

  constructor(
    private readonly outbox: Outbox,
    private readonly runId: string,
    private readonly keys: number,
  ) {}

  async run(phase: LoadPhase, phaseId: string, options: { concurrency: number; onCommitted: () => void }): Promise<void> {
    await paced(phase.events, { concurrency: options.concurrency, ...(phase.ratePerSecond ? { ratePerSecond: phase.ratePerSecond } : {}) }, async (i) => {
      const id = `${this.runId}-k${i % this.keys}`;
      const previous = this.chains.get(id) ?? Promise.resolve();
      const commit = previous.then(async () => {
        const version = this.versions.get(id) ?? 0;
        await this.outbox.commit([{ id, key: { pk: `BENCH#${id}`, sk: 'STATE' }, expectedVersion: version, state: { lastN: i }, events: [{ type: BENCH_EVENT_TYPE, data: { n: i, phase: phaseId } }] }]);
        this.versions.set(id, version + 1);
        options.onCommitted();
      });
      this.chains.set(id, commit.catch(() => undefined));
      await commit;
    });
  }
}

/** Writes the floor's items (plain puts into the floor table, whose stream feeds the floor function). */
export async function writeFloor(client: DynamoDBClient, tableName: string, phaseId: string, events: number, options: { ratePerSecond: number; concurrency: number; onCommitted: () => void }): Promise<void> {
  await paced(events, options, async (i) => {
    await client.send(new PutItemCommand({ TableName: tableName, Item: marshall({ pk: `${phaseId}-f${i}`, phase: phaseId, committedAt: Date.now() }) }));
    options.onCommitted();
  });
}
