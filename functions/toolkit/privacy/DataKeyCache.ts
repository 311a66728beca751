import type { DataKey } from './ports';

export interface DataKeyCacheOptions {
  /** At most this many subjects' keys; the least recently used is evicted first. */
  readonly maxEntries: number;
  /** A key is dropped this long after it was loaded, however often it is used. */
  readonly maxAgeSeconds: number;
  readonly clock?: () => Date;
}

/** A cached plaintext data key, with when it was loaded and last confirmed not erased (epoch ms). */
export interface CachedDataKey extends DataKey {
  readonly loadedAt: number;
  readonly checkedAt: number;
}

/**
 * Plaintext data keys of recently used subjects, in memory only: bounded in entries (LRU) and in age,
 * so steady traffic calls KMS rarely and a key never outlives `maxAgeSeconds` in a process.
 * Knows nothing of erasure; the sealer re-checks tombstones and calls `evict`.
 */
export class DataKeyCache {
  /** Map order is recency order: the first entry is the least recently used. */
  private readonly entries = new Map<string, CachedDataKey>();
  private readonly clock: () => Date;
  private readonly maxAgeMs: number;

  constructor(private readonly options: DataKeyCacheOptions) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
    if (!(options.maxAgeSeconds > 0)) throw new RangeError('maxAgeSeconds must be positive');
    this.clock = options.clock ?? (() => new Date());
    this.maxAgeMs = options.maxAgeSeconds * 1000;
  }

  /** The subject's key if cached and not too old (and marks it most recently used). */
  get(subject: string): CachedDataKey | undefined {
    const entry = this.entries.get(subject);
    if (!entry) return undefined;
    this.entries.delete(subject);
    if (this.now() - entry.loadedAt >= this.maxAgeMs) return undefined;
    this.entries.set(subject, entry);
    return entry;
  }

  /** Caches a key just loaded (and confirmed not erased) for `subject`. */
  set(subject: string, key: DataKey): CachedDataKey {
    const now = this.now();
    const entry: CachedDataKey = { keyVersion: key.keyVersion, plaintext: key.plaintext, loadedAt: now, checkedAt: now };
    this.entries.delete(subject);
    this.entries.set(subject, entry);
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return entry;
  }

  /** Records that the subject was just confirmed not erased; the entry's age is unchanged. */
  markChecked(subject: string): void {
    const entry = this.entries.get(subject);
    if (entry) this.entries.set(subject, { ...entry, checkedAt: this.now() });
  }

  /** Drops the subject's key (erased, or gone from the key table); true if one was cached. */
  evict(subject: string): boolean {
    return this.entries.delete(subject);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private now(): number {
    return this.clock().getTime();
  }
}
