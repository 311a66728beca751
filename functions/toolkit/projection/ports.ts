import type { EventEnvelope } from '../envelope';
import type { ProjectionRow } from './catchUp';

/** Where a projection keeps its rows and its summary. */
export interface ProjectionStore<S> {
  /** The row as last saved (read consistently), or `undefined`. */
  load(key: string): Promise<ProjectionRow<S> | undefined>;
  /**
   * Saves `row` with version `expectedVersion + 1` if the stored one is still `expectedVersion` (0:
   * absent), and adds `summary` to the summary item in the same atomic write. Throws
   * `ProjectionConflictError` if another write came first.
   */
  save(row: ProjectionRow<S>, expectedVersion: number, summary: Readonly<Record<string, number>>): Promise<void>;
}

/** The services' event logs (their outboxes), per event source. */
export interface EventLog {
  /** Whether `source` has a log this projection may read. */
  has(source: string): boolean;
  /**
   * The events of `source` for `partitionkey` with `after < sequence < before`, ascending, as the
   * log still holds them (retention may have removed the oldest).
   */
  read(source: string, partitionkey: string, after: number, before: number): Promise<EventEnvelope[]>;
}
