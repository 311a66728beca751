import type { Connection, ConnectionStore } from './ports';

/** Connections in memory, listed `pageSize` at a time: for unit tests. */
export class InMemoryConnectionStore implements ConnectionStore {
  readonly connections = new Map<string, Connection>();

  constructor(private readonly pageSize = 100) {}

  async add(connection: Connection): Promise<void> {
    this.connections.set(connection.connectionId, connection);
  }

  async remove(connectionId: string): Promise<void> {
    this.connections.delete(connectionId);
  }

  async *pages(): AsyncIterable<readonly string[]> {
    const ids = [...this.connections.keys()];
    for (let start = 0; start < ids.length; start += this.pageSize) yield ids.slice(start, start + this.pageSize);
  }
}
