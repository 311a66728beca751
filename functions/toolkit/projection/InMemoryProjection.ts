import type { EventEnvelope } from '../envelope';
import type { ProjectionRow } from './catchUp';
import { ProjectionConflictError } from './errors';
import type { EventLog, ProjectionStore } from './ports';

/** A projection store in memory, for tests: the same conditional-write semantics as the DynamoDB one. */
export class InMemoryProjectionStore<S> implements ProjectionStore<S> {
  readonly rows = new Map<string, ProjectionRow<S>>();
  readonly summary: Record<string, number> = {};
  /** Called before each save; a test can change a row here to simulate a concurrent writer. */
  beforeSave?: (key: string) => void;

  async load(key: string): Promise<ProjectionRow<S> | undefined> {
    return this.rows.get(key);
  }

  async save(row: ProjectionRow<S>, expectedVersion: number, summary: Readonly<Record<string, number>>): Promise<void> {
    this.beforeSave?.(row.key);
    if ((this.rows.get(row.key)?.version ?? 0) !== expectedVersion) throw new ProjectionConflictError(row.key, expectedVersion);
    this.rows.set(row.key, { ...row, version: expectedVersion + 1 });
    for (const [name, value] of Object.entries(summary)) this.summary[name] = (this.summary[name] ?? 0) + value;
  }
}

/** Event logs in memory, for tests: per source, the events as an outbox holds them. */
export class InMemoryEventLog implements EventLog {
  readonly reads: Array<{ source: string; partitionkey: string; after: number; before: number }> = [];
  constructor(readonly events: Record<string, EventEnvelope[]> = {}) {}

  has(source: string): boolean {
    return source in this.events;
  }

  async read(source: string, partitionkey: string, after: number, before: number): Promise<EventEnvelope[]> {
    this.reads.push({ source, partitionkey, after, before });
    return (this.events[source] ?? [])
      .filter((e) => e.partitionkey === partitionkey && Number(e.sequence) > after && Number(e.sequence) < before)
      .sort((a, b) => Number(a.sequence) - Number(b.sequence));
  }
}
