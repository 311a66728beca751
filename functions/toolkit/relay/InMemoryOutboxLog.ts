import type { EventEnvelope } from '../envelope';
import type { LoggedItem, OutboxLog, StreamKey } from './ports';
import { streamId } from './streamOrder';

/** An outbox log in memory, for tests: events are appended as committed; items can be removed. */
export class InMemoryOutboxLog implements OutboxLog {
  private readonly items = new Map<string, Map<number, LoggedItem>>();
  /** Every read, to check how often the relay reads the log. */
  readonly reads: Array<{ stream: StreamKey; from: number; to: number }> = [];

  /** Logs events as their commit wrote them (optionally with their TTL). */
  append(events: readonly EventEnvelope[], expiresAt?: number): this {
    for (const event of events) {
      const sequence = Number(event.sequence);
      this.streamOf(event).set(sequence, { sequence, event, ...(expiresAt === undefined ? {} : { expiresAt }) });
    }
    return this;
  }

  /** Logs an item that is not a valid event at this place of a stream. */
  appendUnreadable(stream: StreamKey, sequence: number, reason: string): this {
    this.streamOf(stream).set(sequence, { sequence, unreadable: reason });
    return this;
  }

  /** Deletes an item, as TTL or an operator would. */
  remove(stream: StreamKey, sequence: number): this {
    this.streamOf(stream).delete(sequence);
    return this;
  }

  async read(stream: StreamKey, from: number, to: number): Promise<LoggedItem[]> {
    this.reads.push({ stream: { partitionkey: stream.partitionkey, subject: stream.subject }, from, to });
    return [...this.streamOf(stream).values()].filter((item) => item.sequence >= from && item.sequence <= to).sort((a, b) => a.sequence - b.sequence);
  }

  private streamOf(stream: StreamKey): Map<number, LoggedItem> {
    const id = streamId(stream);
    let items = this.items.get(id);
    if (!items) this.items.set(id, (items = new Map()));
    return items;
  }
}
