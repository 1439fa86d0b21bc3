import {
  type FeatureStoreEngine,
  type FeatureType,
  type OnlineEngine,
  type Principal,
  type PushResult,
  UnavailableError,
  ValidationError,
} from '@featurestore/core';

/** A read: `project/featureset[@version]:feature` references and one object per entity. */
export interface OnlineGetInput {
  features: readonly string[];
  entities: readonly Record<string, unknown>[];
}

/** An output column of a read: `<featureset>__<feature>` and the feature's type. */
export interface OnlineColumn {
  name: string;
  type: FeatureType;
}

/** What a read returns: the engine's rows (entity, then the columns), and the columns typed. */
export interface OnlineGetOutput {
  columns: OnlineColumn[];
  rows: Record<string, unknown>[];
  /** The rows (from 0) with values past their time to live, and those columns. */
  expired: { row: number; columns: string[] }[];
}

/** A push: rows of one feature set, as the engine takes them. */
export interface OnlinePushInput {
  project: string;
  featureSet: string;
  rows: readonly unknown[];
  /**
   * How long the feature set lookup is retried while the metadata database is unavailable
   * and, with `waitApplied` or `waitSynced`, how long each wait may take (default 30 s).
   */
  timeoutMs?: number;
  /** Return once every row is readable online. */
  waitApplied?: boolean;
  /** Return once every row is committed offline (by whichever member of the sync group). */
  waitSynced?: boolean;
}

/** A materialization to start. */
export interface OnlineMaterializeInput {
  project: string;
  featureSet: string;
  version?: string;
  rebuild?: boolean;
}

const DEFAULT_PUSH_TIMEOUT_MS = 30_000;
/** How long a feature set's column types are reused: the engine's metadata cache default. */
const TYPES_TTL_MS = 1000;
const REF_PREFIX = /^([^/]+)\/([^@:]+)(?:@([^:]+))?:/;

interface CachedTypes {
  expires: number;
  types: Promise<ReadonlyMap<string, FeatureType>>;
}

/**
 * The online operations of the server, one function each, which every transport calls (the
 * gRPC OnlineService and the HTTP/JSON mapping): each takes the caller's principal and plain
 * values, and returns the engine's answer. Transports only code their own messages.
 */
export class OnlineOperations {
  readonly #engine: FeatureStoreEngine;
  readonly #online: OnlineEngine;
  readonly #now: () => number;
  /** Column types by `project/featureset@version`, shared by callers (see `#columnTypes`). */
  readonly #types = new Map<string, CachedTypes>();

  /** `now`: the clock the column types cache expires by (default `Date.now`). */
  constructor(engine: FeatureStoreEngine, now: () => number = Date.now) {
    if (!engine.online) {
      throw new ValidationError(
        'the online service needs an online store: configure one (--online URL) or serve --role core',
        { details: { field: 'online' } },
      );
    }
    this.#engine = engine;
    this.#online = engine.online;
    this.#now = now;
  }

  /**
   * The latest values of the referenced features for every entity, with the engine's feature
   * refs and sensitive-feature rules (it reads and authorizes; the types come after).
   */
  async get(principal: Principal, input: OnlineGetInput): Promise<OnlineGetOutput> {
    const { rows, expired } = await this.#online.readOnlineFeatures(principal, {
      features: input.features,
      entities: input.entities,
    });
    const [first] = rows;
    if (!first) return { columns: [], rows, expired };
    // Each row is the entity's own keys, then the columns (see the engine's `resultRows`).
    const names = Object.keys(first).slice(Object.keys(input.entities[0]!).length);
    const types = await this.#columnTypes(principal, input.features);
    return {
      columns: names.map((name) => ({ name, type: types.get(name) ?? 'string' })),
      rows,
      expired,
    };
  }

  /**
   * Validates and pushes rows as `featurestore online push` does for each batch (every row
   * checked before any is published), and with `waitApplied` waits until they are readable
   * online, with `waitSynced` until they are committed offline. Returns the engine's push
   * result.
   */
  async push(principal: Principal, input: OnlinePushInput): Promise<PushResult> {
    const timeoutMs = input.timeoutMs ?? DEFAULT_PUSH_TIMEOUT_MS;
    const result = await this.#online.push(principal, input.project, input.featureSet, input.rows, {
      timeoutMs,
    });
    if (input.waitApplied) {
      await this.#online.waitApplied(
        principal,
        input.project,
        input.featureSet,
        input.rows as readonly Record<string, unknown>[],
        { timeoutMs },
      );
    }
    if (input.waitSynced) await this.#online.waitSynced(result, { timeoutMs });
    return result;
  }

  /** Starts the engine's materialize job and returns its id (the job runs on). */
  async materialize(principal: Principal, input: OnlineMaterializeInput): Promise<string> {
    const running = await this.#online.materialize(principal, input.project, input.featureSet, {
      ...(input.version === undefined ? {} : { version: input.version }),
      ...(input.rebuild ? { rebuild: true } : {}),
    });
    // The caller follows the job through the job RPCs; its failure is the job's state.
    running.result.catch(() => undefined);
    return running.job.id;
  }

  /**
   * The type of every `<featureset>__<feature>` column of the referenced feature sets. Asked
   * only after the engine read them for `principal`, so the types are no secret to it; they
   * are cached across callers for as long as the engine caches its lookups.
   */
  async #columnTypes(
    principal: Principal,
    features: readonly string[],
  ): Promise<Map<string, FeatureType>> {
    const refs = new Set<string>();
    for (const item of features.flatMap((part) => part.split(','))) {
      const match = REF_PREFIX.exec(item.trim());
      if (match) refs.add(`${match[1]}/${match[2]}@${match[3] ?? ''}`);
    }
    const types = new Map<string, FeatureType>();
    for (const ref of refs) {
      for (const [name, type] of await this.#typesOf(principal, ref)) types.set(name, type);
    }
    return types;
  }

  #typesOf(principal: Principal, ref: string): Promise<ReadonlyMap<string, FeatureType>> {
    const now = this.#now();
    const cached = this.#types.get(ref);
    if (cached && cached.expires > now) return cached.types;
    const [path, version] = ref.split('@') as [string, string];
    const [project, name] = path.split('/') as [string, string];
    const types = this.#engine.featureSets
      .get(principal, project, name, version === '' ? undefined : version)
      .then(
        (featureSet) =>
          new Map(
            featureSet.schema.features.map((feature) => [
              `${featureSet.name}__${feature.name}`,
              feature.type,
            ]),
          ),
        (error: unknown) => {
          // The engine just read these feature sets (from its last known lookups, while the
          // metadata database is unreachable): so do the types, rather than fail the read.
          if (cached && error instanceof UnavailableError) return cached.types;
          throw error;
        },
      );
    this.#types.set(ref, { expires: now + TYPES_TTL_MS, types });
    // A failed lookup is not kept.
    types.catch(() => {
      if (this.#types.get(ref)?.types === types) this.#types.delete(ref);
    });
    return types;
  }
}
