import type { Cursor, CursorStore, StreamKey } from './ports';
import { streamId } from './streamOrder';

/** Cursors in memory, for tests; `failing(n)` makes the next n calls throw. */
export class InMemoryCursorStore implements CursorStore {
  private readonly cursors = new Map<string, Cursor>();
  private failuresLeft = 0;
  readonly calls: Array<'get' | 'put'> = [];

  constructor(initial: readonly Cursor[] = []) {
    for (const cursor of initial) this.cursors.set(streamId(cursor), cursor);
  }

  failing(calls: number): this {
    this.failuresLeft = calls;
    return this;
  }

  /** The stream's cursor, if it has one. */
  of(stream: StreamKey): Cursor | undefined {
    return this.cursors.get(streamId(stream));
  }

  async get(streams: readonly StreamKey[]): Promise<Cursor[]> {
    this.calls.push('get');
    this.maybeFail();
    return streams.flatMap((stream) => this.cursors.get(streamId(stream)) ?? []);
  }

  async put(cursors: readonly Cursor[]): Promise<void> {
    this.calls.push('put');
    this.maybeFail();
    for (const cursor of cursors) this.cursors.set(streamId(cursor), cursor);
  }

  private maybeFail(): void {
    if (this.failuresLeft <= 0) return;
    this.failuresLeft--;
    throw Object.assign(new Error('cursor table unavailable'), { name: 'ProvisionedThroughputExceededException' });
  }
}
