import { backoffDelay, sleep, type BackoffPolicy } from '../retry/backoff';
import type { EventEnvelope } from '../envelope';
import { catchUp, decide, newRow, SUMMARY_KEY, type ApplyEvent, type EventPosition, type ProjectionRow, type SkippedEvent } from './catchUp';
import { ProjectionConflictError } from './errors';
import type { EventLog, ProjectionStore } from './ports';
import { PoisonMessageError } from '../consumer/errors';

export interface ProjectorOptions<S, E extends EventPosition> {
  readonly store: ProjectionStore<S>;
  readonly log: EventLog;
  readonly initial: (key: string) => S;
  readonly apply: ApplyEvent<S, E>;
  /** The row an event belongs to. @default its partition key */
  readonly key?: (event: E) => string;
  /**
   * A logged envelope as this projection reads it: the decoded event (validated, personal fields
   * opened), or `undefined` for a type the projection does not handle. Throws for a handled type
   * whose data is invalid.
   */
  readonly decode: (envelope: EventEnvelope) => Promise<E | undefined>;
  /** Saves retried after a conflict, reading the row again each time. @default 5 attempts, 20–500 ms */
  readonly conflictRetry?: BackoffPolicy;
  readonly random?: () => number;
}

export type ProjectionOutcome =
  | { readonly kind: 'duplicate'; readonly key: string; readonly watermark: number }
  | {
      readonly kind: 'applied';
      readonly key: string;
      readonly revision: number;
      /** Events applied by this delivery: 1, or more after filling a gap from the log. */
      readonly applied: number;
      readonly skipped: number;
      /** Sequences the log no longer had (retention): passed over. */
      readonly missing: number;
      /** Saves that lost a race and were redone. */
      readonly conflicts: number;
    };

const DEFAULT_CONFLICT_RETRY: BackoffPolicy = { maxAttempts: 5, baseDelayMs: 20, maxDelayMs: 500 };

/**
 * Moves one row on by one delivered event: load, decide (duplicate, apply or gap), fill a gap from
 * the source's log, apply, and save conditionally on the row's version together with the summary
 * deltas. A lost race (another delivery of the same key saved first) reloads and decides again, so
 * concurrent deliveries never apply an event twice or lose one.
 */
export class Projector<S, E extends EventPosition> {
  private readonly keyOf: (event: E) => string;
  private readonly retry: BackoffPolicy;

  constructor(private readonly options: ProjectorOptions<S, E>) {
    this.keyOf = options.key ?? ((event) => event.partitionkey);
    this.retry = options.conflictRetry ?? DEFAULT_CONFLICT_RETRY;
  }

  async project(event: E): Promise<ProjectionOutcome> {
    const key = this.keyOf(event);
    if (key === SUMMARY_KEY || key.length === 0) throw new PoisonMessageError(`event ${event.id} maps to the reserved or empty row key "${key}"`, event.id);
    for (let attempt = 1; ; attempt++) {
      const row = (await this.options.store.load(key)) ?? newRow(key, this.options.initial(key));
      const decision = decide(row, event, this.options.log.has(event.source));
      if (decision.kind === 'duplicate') return { kind: 'duplicate', key, watermark: decision.watermark };
      const backlog = decision.kind === 'gap' ? await this.backlog(row, event, decision.after, decision.before) : [];
      const result = catchUp(row, [...backlog, event], this.options.apply, (source) => this.options.log.has(source));
      try {
        await this.options.store.save(result.row, row.version, result.summary);
      } catch (error) {
        if (!(error instanceof ProjectionConflictError) || attempt >= this.retry.maxAttempts) throw error;
        await sleep(backoffDelay(this.retry, attempt, this.options.random));
        continue;
      }
      return { kind: 'applied', key, revision: result.row.revision, applied: result.applied, skipped: result.skipped, missing: result.missing, conflicts: attempt - 1 };
    }
  }

  /** The logged events between the watermark and `event`: decoded, or skipped when not this row's. */
  private async backlog(row: ProjectionRow<S>, event: E, after: number, before: number): Promise<Array<E | SkippedEvent>> {
    const logged = await this.options.log.read(event.source, event.partitionkey, after, before);
    const backlog: Array<E | SkippedEvent> = [];
    for (const envelope of logged) {
      const decoded = await this.options.decode(envelope);
      if (decoded !== undefined && this.keyOf(decoded) === row.key) backlog.push(decoded);
      else backlog.push({ id: envelope.id, source: envelope.source, type: envelope.type, partitionkey: envelope.partitionkey, sequence: envelope.sequence, skipped: true });
    }
    return backlog;
  }
}
