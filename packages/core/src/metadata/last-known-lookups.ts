import { type ErrorCode, isFeatureStoreError, UnavailableError } from '../errors.js';

/** How long a lookup may take before the last known answer is served instead. */
export const DEFAULT_METADATA_TIMEOUT_MS = 500;
/** How old a last known answer may be and still be served while the metadata store is down. */
export const DEFAULT_METADATA_MAX_STALENESS_MS = 5 * 60_000;

/**
 * Whether online reads are being served from last known lookups because the metadata store
 * does not answer: what a server exports as metrics and shows on a readiness page.
 */
export interface MetadataOutageStatus {
  /** True while the metadata store is unreachable and lookups are served from memory. */
  readonly degraded: boolean;
  /** When the current (or, once over, the last) outage began; undefined before any. */
  readonly since: Date | undefined;
  /** Lookups answered from memory during outages, since the engine was created. */
  readonly staleServed: number;
  /**
   * Lookups refused during outages (never looked up before, or past the staleness bound),
   * since the engine was created.
   */
  readonly staleRefused: number;
}

/** Reported when serving from last known lookups begins or ends. */
export interface MetadataOutageEvent {
  degraded: boolean;
  since: Date;
  /** One line saying what happened and what it means, for a log. */
  message: string;
  staleServed: number;
}

export interface LastKnownLookupsOptions {
  /**
   * How long a lookup may take, in ms, before the last known answer is served instead
   * (default 500): a hung database must not stall reads. A lookup with no last known answer
   * waits for the store as long as it takes, unless an outage is already known.
   */
  timeoutMs?: number;
  /** How old a last known answer may be, in ms, and still be served (default 5 minutes). */
  maxStalenessMs?: number;
  /** The clock ages are measured by, in epoch ms (default `Date.now`): tests advance theirs. */
  now?: () => number;
  /** Called when an outage begins and when it ends (default: one line on stderr). */
  onChange?: (event: MetadataOutageEvent) => void;
  /** Most answers kept (default 10,000); the least recently loaded go first. */
  maxEntries?: number;
  /**
   * The access-changing writes of this process (`MetadataChanges`): an answer known from
   * before one is never served, so what this process revokes applies at once.
   */
  changes?: { readonly generation: number };
}

interface Known {
  value: unknown;
  loadedAt: number;
  /** `changes.generation` when its lookup began. */
  generation: number;
}

/**
 * A probe that has not answered after this many `timeoutMs` is taken for one hung on a dead
 * connection: the next lookup probes again. At most one query per such period piles up.
 */
const PROBE_GIVE_UP_TIMEOUTS = 10;

/** Answers that come from the metadata store itself: it is reachable. */
const ANSWERS = new Set<ErrorCode>([
  'NOT_FOUND',
  'PERMISSION_DENIED',
  'UNAUTHENTICATED',
  'VALIDATION',
]);

/**
 * The last successful answer of each lookup the online path needs (a token, a feature set
 * resolved and authorized for a principal, a sensitive-read permission), served while the
 * metadata store is unreachable — it fails with `UnavailableError` or takes longer than
 * `timeoutMs` — so online serving outlives a database outage while the online store is up.
 *
 * Staleness is bounded: an answer older than `maxStalenessMs` is refused (UNAVAILABLE, saying
 * so), as is a lookup never answered before once the store failed UNAVAILABLE (while it is
 * only slow, such a lookup waits for it up to ten timeouts: a busy machine's late answers
 * are not refused). While degraded, at most one lookup at a time
 * goes to the store (the probe); the others are answered from memory at once, so a hung
 * database does not pile up waiting queries. The first answer of the store ends the outage,
 * and every answer replaces what was known: a token revoked or a role removed during the
 * outage is refused from the next lookup on. A refusal (`NOT_FOUND`, `PERMISSION_DENIED`,
 * `UNAUTHENTICATED`) forgets the key, and an access change made by this process
 * (`changes`) retires every answer known before it.
 */
export class LastKnownLookups implements MetadataOutageStatus {
  readonly #timeoutMs: number;
  readonly #maxStalenessMs: number;
  readonly #now: () => number;
  readonly #onChange: (event: MetadataOutageEvent) => void;
  readonly #maxEntries: number;
  readonly #changes: { readonly generation: number } | undefined;
  readonly #known = new Map<string, Known>();
  #degraded = false;
  /**
   * The store said it cannot be reached (`UnavailableError`), rather than only being slow: a
   * slow store (a busy machine) serves known answers, but a lookup with none waits for it.
   */
  #confirmed = false;
  #since: number | undefined;
  /** When the lookup that goes to the store while degraded started (`performance.now()`). */
  #probeStartedAt: number | undefined;
  #staleServed = 0;
  #staleRefused = 0;

  constructor(options: LastKnownLookupsOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_METADATA_TIMEOUT_MS;
    this.#maxStalenessMs = options.maxStalenessMs ?? DEFAULT_METADATA_MAX_STALENESS_MS;
    this.#now = options.now ?? (() => Date.now());
    this.#onChange = options.onChange ?? ((event) => console.warn(event.message));
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#changes = options.changes;
  }

  get degraded(): boolean {
    return this.#degraded;
  }

  get since(): Date | undefined {
    return this.#since === undefined ? undefined : new Date(this.#since);
  }

  get staleServed(): number {
    return this.#staleServed;
  }

  get staleRefused(): number {
    return this.#staleRefused;
  }

  /**
   * The answer of `load` — or, while the metadata store does not answer, the last one known
   * under `key`, if not older than the staleness bound.
   *
   * @param key Names the lookup and everything its answer depends on (the principal too).
   * @param what Describes the lookup in a refusal: `the token "abc…"`, `feature set p/f`.
   */
  async get<T>(key: string, what: string, load: () => Promise<T>): Promise<T> {
    const generation = this.#changes?.generation ?? 0;
    const entry = this.#known.get(key);
    // An answer from before an access change made here may be one this process revoked.
    const known = entry?.generation === generation ? entry : undefined;
    // Nothing known and the store only slow, not down: this lookup waits for it below.
    const serveFromMemory = known !== undefined || this.#confirmed;
    if (this.#degraded && this.#probing() && serveFromMemory) {
      return this.#stale(key, known, what, undefined) as T;
    }
    const loading = load().then(
      (value) => {
        this.#remember(key, value, generation);
        this.#reachable();
        return value;
      },
      (error: unknown) => {
        if (isFeatureStoreError(error) && ANSWERS.has(error.code)) {
          this.#known.delete(key);
          this.#reachable();
        } else if (error instanceof UnavailableError) {
          this.#unreachable(error.message, true);
        }
        throw error;
      },
    );
    // While degraded, this lookup is the probe: the others don't wait for the store.
    const probing = this.#degraded;
    if (probing) this.#probe(loading);
    // Nothing to serve instead and no outage known: wait for the store as long as it takes.
    if (!serveFromMemory && !this.#degraded) return loading;
    // Nothing to serve instead while the store is slow (not known down): a slow database on
    // a busy machine answers late rather than never, so wait longer before refusing.
    const waitMs = serveFromMemory ? this.#timeoutMs : this.#timeoutMs * PROBE_GIVE_UP_TIMEOUTS;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), waitMs);
    });
    try {
      const first = await Promise.race([loading, late]);
      if (first !== 'late') return first;
    } catch (error) {
      if (!(error instanceof UnavailableError)) throw error;
      return this.#stale(key, known, what, error) as T;
    } finally {
      clearTimeout(timer);
    }
    // The lookup goes on as the probe; what it answers is remembered, a failure is reported.
    this.#unreachable(`no answer within ${waitMs} ms`, false);
    if (!probing) this.#probe(loading);
    return this.#stale(key, known, what, undefined) as T;
  }

  /** Whether a probe is out, and not so long that it must be hung on a dead connection. */
  #probing(): boolean {
    return (
      this.#probeStartedAt !== undefined &&
      performance.now() - this.#probeStartedAt < this.#timeoutMs * PROBE_GIVE_UP_TIMEOUTS
    );
  }

  #probe(loading: Promise<unknown>): void {
    const startedAt = performance.now();
    this.#probeStartedAt = startedAt;
    void loading
      .catch(() => undefined)
      .finally(() => {
        if (this.#probeStartedAt === startedAt) this.#probeStartedAt = undefined;
      });
  }

  /** The last known answer, counted as served, or an `UnavailableError` saying why not. */
  #stale(key: string, known: Known | undefined, what: string, cause: unknown): unknown {
    const since = new Date(this.#since ?? this.#now()).toISOString();
    if (known === undefined) {
      this.#staleRefused += 1;
      throw new UnavailableError(
        `the metadata store is unreachable (since ${since}) and ${what} was not looked up before: it cannot be answered until the metadata store is back`,
        { cause, details: { degradedSince: since } },
      );
    }
    const ageMs = this.#now() - known.loadedAt;
    if (ageMs > this.#maxStalenessMs) {
      this.#staleRefused += 1;
      this.#known.delete(key);
      throw new UnavailableError(
        `the metadata store is unreachable (since ${since}) and the last known answer for ${what} is ${Math.round(ageMs / 1000)} s old, past the staleness bound of ${Math.round(this.#maxStalenessMs / 1000)} s (onlineMetadataMaxStalenessMs): it is served again once the metadata store is back`,
        { cause, details: { degradedSince: since, ageMs, maxStalenessMs: this.#maxStalenessMs } },
      );
    }
    this.#staleServed += 1;
    return known.value;
  }

  #remember(key: string, value: unknown, generation: number): void {
    this.#known.delete(key);
    if (this.#known.size >= this.#maxEntries) {
      const oldest = this.#known.keys().next();
      if (!oldest.done) this.#known.delete(oldest.value);
    }
    this.#known.set(key, { value, loadedAt: this.#now(), generation });
  }

  #unreachable(reason: string, confirmed: boolean): void {
    this.#confirmed ||= confirmed;
    if (this.#degraded) return;
    this.#degraded = true;
    this.#since = this.#now();
    this.#onChange({
      degraded: true,
      since: new Date(this.#since),
      staleServed: this.#staleServed,
      message: `the metadata store is unreachable (${reason}): online reads are served from lookups known before, up to ${Math.round(this.#maxStalenessMs / 1000)} s old`,
    });
  }

  #reachable(): void {
    this.#confirmed = false;
    if (!this.#degraded) return;
    this.#degraded = false;
    const since = new Date(this.#since!);
    this.#onChange({
      degraded: false,
      since,
      staleServed: this.#staleServed,
      message: `the metadata store answers again after ${Math.round((this.#now() - since.getTime()) / 1000)} s unreachable: online reads use fresh lookups (${this.#staleServed} served from memory so far)`,
    });
  }
}
