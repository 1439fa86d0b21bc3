import type { MetadataChanges } from './metadata-changes.js';

interface Entry<T> {
  value: Promise<T>;
  expiresAt: number;
  generation: number;
}

/**
 * Remembers successful lookups (a feature set resolved and authorized for a principal) for
 * `ttlMs`, the way Feast's registry cache does for its online server: a model's every read
 * would otherwise pay several metadata round trips, more than the online store read itself.
 * A change made in this process empties it at once; one made elsewhere (a revoked role, a new
 * major version) is seen within `ttlMs`. Failures are never cached. `ttlMs` 0 turns it off.
 */
export class ReadThroughCache<T> {
  readonly #ttlMs: number;
  readonly #changes: MetadataChanges | undefined;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry<T>>();

  /**
   * @param options.now The clock entries expire by, in epoch milliseconds (default
   *   `Date.now`): a test advances its own instead of waiting `ttlMs`.
   */
  constructor(options: {
    ttlMs: number;
    changes?: MetadataChanges;
    maxEntries?: number;
    now?: () => number;
  }) {
    this.#ttlMs = options.ttlMs;
    this.#changes = options.changes;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#now = options.now ?? (() => Date.now());
  }

  get(key: string, load: () => Promise<T>): Promise<T> {
    if (this.#ttlMs <= 0) return load();
    const now = this.#now();
    const generation = this.#changes?.generation ?? 0;
    const entry = this.#entries.get(key);
    if (entry && entry.expiresAt > now && entry.generation === generation) return entry.value;
    // Bounded without bookkeeping: entries are cheap to load again.
    if (this.#entries.size >= this.#maxEntries) this.#entries.clear();
    const value = load();
    this.#entries.set(key, { value, expiresAt: now + this.#ttlMs, generation });
    value.catch(() => {
      if (this.#entries.get(key)?.value === value) this.#entries.delete(key);
    });
    return value;
  }
}
