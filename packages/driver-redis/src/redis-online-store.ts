import {
  checkOnlineRecords,
  checkReplacements,
  type FeatureSetVersionRef,
  FeatureStoreError,
  type OnlineReadRequest,
  type OnlineRecord,
  type OnlineReplacement,
  type OnlineStore,
  positiveInteger,
  ValidationError,
} from '@featurestore/core/driver';
import { convertRedisError } from './errors.js';
import { decodeKey, encodeKey, shapeKey, versionPattern, versionPrefix } from './key-layout.js';
import {
  learnShape,
  RecordDecoder,
  RecordEncoder,
  readHeader,
  UnknownShapeError,
} from './record-codec.js';
import {
  createRedisClient,
  parseRedisUrl,
  type RedisArgument,
  type RedisClientLike,
  type RedisConnectionOptions,
  type RedisLocation,
} from './redis-client.js';
import {
  HEADERS_SCRIPT,
  HEADERS_SCRIPT_SHA,
  REPLACE_SCRIPT,
  REPLACE_SCRIPT_SHA,
  WRITE_SCRIPT,
  WRITE_SCRIPT_SHA,
} from './write-script.js';

export interface RedisOnlineStoreOptions extends RedisConnectionOptions {
  /**
   * `redis://[user:password@]host[:port][/db]`, `rediss://…`, or
   * `redis-cluster://host:port,host:port`. Exclusive with `client`.
   */
  url?: string;
  /** Your own `ioredis` `Redis` or `Cluster` (left open on `close`). Exclusive with `url`. */
  client?: RedisClientLike;
  /** Records per write script call (default 1000): a script blocks Redis while it runs. */
  writeBatchSize?: number;
  /** Keys per `SCAN` page and per `UNLINK` (default 1000). */
  scanCount?: number;
}

/** Options of `RedisOnlineStore.fromUrl`: everything but the URL. */
export type RedisUrlOptions = Omit<RedisOnlineStoreOptions, 'url'>;

/** Extras of the Redis store's `write`, beyond the port. */
export interface RedisWriteOptions {
  /**
   * The feature set's time to live: Redis removes each record this long after its event time
   * (`SET … PXAT`). Reads enforce the TTL themselves; this only frees memory.
   */
  ttlMs?: number;
}

const DEFAULT_BATCH = 1000;
const TILDE = '~'.charCodeAt(0);
const DEFAULT_CONNECT_TIMEOUT = 5000;

/**
 * `OnlineStore` on Redis or Redis Cluster (`ioredis`, loaded on first use).
 *
 * One key per record holds every feature of it in one compact binary value
 * (`fs:{<featureSetId>:<major>}:<key>`, see `key-layout.ts` and `record-codec.ts`); the
 * feature names are kept once per record shape, next to the records, and cached by readers.
 * Reads of any number of keys are one `MGET`; reads of several feature sets are one `MGET` on
 * a single node, and one `MGET` per feature set, sent together, on a cluster (a process's
 * first read of a shape fetches its names in one more round trip). Writes run one Lua script
 * per batch of records (`EVALSHA`, falling back to `EVAL` when Redis lost the script), which
 * compares each stored header with the new one: newest wins, atomically.
 *
 * Connection problems fail fast with an `UnavailableError` naming the server: commands are not
 * queued while disconnected, and a reply that never comes times out (`commandTimeoutMs`).
 *
 * @example
 * const store = RedisOnlineStore.fromUrl('redis://cache.internal:6379');
 * const featureSet = { featureSetId: 'fs_1', major: 1 };
 * await store.write(featureSet, [{ key: ['c42'], eventTime: Date.now(), writeSequence: 1, values: { amount: 9.5 } }]);
 * const [row] = await store.read({ featureSet, keys: [['c42']], features: ['amount'] });
 *
 * @example
 * // Your own client: a cluster with your TLS settings
 * const store = new RedisOnlineStore({ client: new Cluster(nodes, { redisOptions: { tls: {} } }) });
 */
export class RedisOnlineStore implements OnlineStore {
  readonly driver = 'redis';
  readonly #options: RedisOnlineStoreOptions;
  readonly #location: RedisLocation | undefined;
  readonly #batch: number;
  readonly #scanCount: number;
  #ready: Promise<RedisClientLike> | undefined;
  #connectionError: Error | undefined;
  /** Bytes of an encoded record in the last write, to size the next one's buffer. */
  #recordBytes = 256;
  #closed = false;

  constructor(options: RedisOnlineStoreOptions) {
    if ((options.url === undefined) === (options.client === undefined)) {
      throw new ValidationError(
        'RedisOnlineStore needs either a url or a client (not both, not neither)',
        { details: { field: options.url === undefined ? 'url' : 'client' } },
      );
    }
    this.#location = options.url === undefined ? undefined : parseRedisUrl(options.url);
    this.#batch = positiveInteger('writeBatchSize', options.writeBatchSize ?? DEFAULT_BATCH);
    this.#scanCount = positiveInteger('scanCount', options.scanCount ?? DEFAULT_BATCH);
    this.#options = options;
  }

  /**
   * Opens `redis://…`, `rediss://…` or `redis-cluster://host:port,host:port`; the connection
   * is made on the first call.
   *
   * @example
   * RedisOnlineStore.fromUrl('redis://:secret@127.0.0.1:6379/2');
   * RedisOnlineStore.fromUrl('redis-cluster://10.0.0.1:7000,10.0.0.2:7000', { commandTimeoutMs: 2000 });
   */
  static fromUrl(url: string, options: RedisUrlOptions = {}): RedisOnlineStore {
    return new RedisOnlineStore({ ...options, url });
  }

  /** Where the store sends its commands, as messages name it: no credentials. */
  get endpoint(): string {
    if (this.#location) return this.#location.endpoint;
    const client = this.#options.client as { options?: { host?: string; port?: number } };
    const { host, port } = client.options ?? {};
    return host === undefined ? 'the client passed in' : `${host}:${port ?? 6379}`;
  }

  /**
   * Applies each key's newest record of the batch when it is at least as new as the stored
   * one (one script call per `writeBatchSize` records, sent together); returns how many keys
   * changed.
   */
  async write(
    featureSet: FeatureSetVersionRef,
    records: readonly OnlineRecord[],
    options: RedisWriteOptions = {},
  ): Promise<number> {
    const client = await this.#open();
    checkOnlineRecords(records);
    if (records.length === 0) return 0;
    const keep = options.ttlMs === undefined ? 0 : Math.max(1, Math.ceil(options.ttlMs));
    const prefix = versionPrefix(featureSet);
    const newest = new Map<string, OnlineRecord>();
    for (const record of records) {
      const key = encodeKey(prefix, record.key);
      const current = newest.get(key);
      if (
        !current ||
        record.eventTime > current.eventTime ||
        (record.eventTime === current.eventTime && record.writeSequence >= current.writeSequence)
      ) {
        newest.set(key, record);
      }
    }
    // Sized from earlier batches: growing a buffer record by record costs copies and garbage.
    const encoder = new RecordEncoder(Math.ceil(newest.size * this.#recordBytes * 1.2) + 1024);
    let bytes = 0;
    const calls: Promise<number>[] = [];
    let keys: string[] = [];
    let values: Buffer[] = [];
    for (const [key, record] of newest) {
      keys.push(key);
      const encoded = encoder.encode(record.eventTime, record.writeSequence, record.values);
      bytes += encoded.length;
      values.push(encoded);
      if (keys.length === this.#batch) {
        calls.push(this.#runWrite(client, prefix, keys, keep, values, encoder.shapes));
        keys = [];
        values = [];
      }
    }
    if (keys.length > 0) {
      calls.push(this.#runWrite(client, prefix, keys, keep, values, encoder.shapes));
    }
    this.#recordBytes = bytes / newest.size;
    const applied = await Promise.all(calls);
    return applied.reduce((sum, count) => sum + count, 0);
  }

  /**
   * Compare-and-set past newest-wins (see the port): one replace script call per
   * `writeBatchSize` replacements, sent together; each key is compared and set atomically.
   */
  async replace(
    featureSet: FeatureSetVersionRef,
    replacements: readonly OnlineReplacement[],
    options: RedisWriteOptions = {},
  ): Promise<boolean[]> {
    const client = await this.#open();
    checkReplacements(replacements);
    if (replacements.length === 0) return [];
    const keep = options.ttlMs === undefined ? 0 : Math.max(1, Math.ceil(options.ttlMs));
    const prefix = versionPrefix(featureSet);
    const encoder = new RecordEncoder();
    const calls: Promise<boolean[]>[] = [];
    for (let from = 0; from < replacements.length; from += this.#batch) {
      const keys: string[] = [];
      const pairs: (Buffer | string)[] = [];
      for (const { key, expected, record } of replacements.slice(from, from + this.#batch)) {
        keys.push(encodeKey(prefix, key));
        let header = '' as Buffer | string;
        if (expected !== null) {
          header = Buffer.alloc(16);
          header.writeDoubleLE(expected.eventTime, 0);
          header.writeDoubleLE(expected.writeSequence, 8);
        }
        pairs.push(
          header,
          record === null
            ? ''
            : encoder.encode(record.eventTime, record.writeSequence, record.values),
        );
      }
      const shapes = [...encoder.shapes];
      const args: RedisArgument[] = [
        ...keys,
        ...shapes.map(([id]) => shapeKey(prefix, id)),
        keep,
        keys.length,
        ...pairs,
        ...shapes.map(([, shape]) => shape),
      ];
      const count = keys.length + shapes.length;
      calls.push(
        this.#runScript(client, REPLACE_SCRIPT, REPLACE_SCRIPT_SHA, count, args, 'replace').then(
          (reply) => (reply as unknown[]).map((applied) => Number(applied) === 1),
        ),
      );
    }
    return (await Promise.all(calls)).flat();
  }

  /**
   * One `MGET`; a read of no features (`features: []`, e.g. to compare versions before a write)
   * fetches only each record's event time and write sequence (`HEADERS_SCRIPT`).
   */
  async read(request: OnlineReadRequest): Promise<(OnlineRecord | undefined)[]> {
    if (request.features?.length === 0) return this.#readHeaders(request);
    const [rows] = await this.readMany([request]);
    return rows!;
  }

  async #readHeaders(request: OnlineReadRequest): Promise<(OnlineRecord | undefined)[]> {
    const client = await this.#open();
    const prefix = versionPrefix(request.featureSet);
    const oldest =
      request.ttlMs === undefined ? undefined : (request.now ?? Date.now()) - request.ttlMs;
    const calls: Promise<unknown>[] = [];
    for (let from = 0; from < request.keys.length; from += this.#batch) {
      const keys = request.keys
        .slice(from, from + this.#batch)
        .map((key) => encodeKey(prefix, key));
      calls.push(
        this.#runScript(client, HEADERS_SCRIPT, HEADERS_SCRIPT_SHA, keys.length, keys, 'read'),
      );
    }
    const replies = (await Promise.all(calls)).flatMap((reply) => reply as string[]);
    return request.keys.map((key, i) => {
      const eventTime = replies[2 * i];
      if (!eventTime) return undefined;
      const record = {
        key: [...key],
        eventTime: Number(eventTime),
        writeSequence: Number(replies[2 * i + 1]),
        values: {},
      };
      return oldest !== undefined && record.eventTime <= oldest ? undefined : record;
    });
  }

  /**
   * Reads several feature sets in one round trip: one `MGET` of every key on a single node;
   * on a cluster, one `MGET` per feature set (each version is one slot), sent together.
   */
  async readMany(requests: readonly OnlineReadRequest[]): Promise<(OnlineRecord | undefined)[][]> {
    const client = await this.#open();
    const keys = requests.map((request) => {
      const prefix = versionPrefix(request.featureSet);
      return request.keys.map((key) => encodeKey(prefix, key));
    });
    let stored: (Buffer | null)[][];
    try {
      if (client.isCluster) {
        stored = await Promise.all(
          keys.map((some) => (some.length === 0 ? [] : client.mgetBuffer(some))),
        );
      } else {
        const all = keys.flat();
        const found = all.length === 0 ? [] : await client.mgetBuffer(all);
        let at = 0;
        stored = keys.map((some) => {
          at += some.length;
          return found.slice(at - some.length, at);
        });
      }
    } catch (error) {
      throw this.#convert(error, 'read (MGET)');
    }
    const pending: PendingRecord[] = [];
    const rows = requests.map((request, i) => this.#decode(request, stored[i]!, pending));
    await this.#finish(client, pending);
    return rows;
  }

  async delete(
    featureSet: FeatureSetVersionRef,
    keys: readonly (readonly string[])[],
  ): Promise<void> {
    const client = await this.#open();
    const prefix = versionPrefix(featureSet);
    const encoded = keys.map((key) => encodeKey(prefix, key));
    try {
      const calls: Promise<number>[] = [];
      for (let i = 0; i < encoded.length; i += this.#scanCount) {
        calls.push(client.unlink(...encoded.slice(i, i + this.#scanCount)));
      }
      await Promise.all(calls);
    } catch (error) {
      throw this.#convert(error, 'delete (UNLINK)');
    }
  }

  /** Removes every key of the version, a `SCAN` page at a time; not atomic with writes. */
  async drop(featureSet: FeatureSetVersionRef): Promise<void> {
    const client = await this.#open();
    const pattern = versionPattern(versionPrefix(featureSet));
    try {
      for (const node of nodesOf(client)) {
        for await (const keys of this.#scanPages(node, pattern)) {
          await node.unlink(...keys);
        }
      }
    } catch (error) {
      throw this.#convert(error, 'drop (SCAN, UNLINK)');
    }
  }

  /**
   * Every record of the version: `SCAN` pages of keys, each page's records with one `MGET`.
   * Records written during the scan may or may not be seen; none is returned twice.
   */
  async *scan(featureSet: FeatureSetVersionRef): AsyncIterable<OnlineRecord> {
    const client = await this.#open();
    const prefix = versionPrefix(featureSet);
    const decoder = new RecordDecoder();
    // SCAN may repeat a key while Redis resizes its table.
    const seen = new Set<string>();
    for (const node of nodesOf(client)) {
      const pages = this.#scanPages(node, versionPattern(prefix));
      for (;;) {
        let keys: Buffer[];
        let stored: (Buffer | null)[];
        try {
          const page = await pages.next();
          if (page.done) break;
          // Shape keys (`~…`) hold feature names, not records.
          keys = page.value.filter(
            (key) => key[prefix.length] !== TILDE && !seen.has(key.toString('latin1')),
          );
          stored = keys.length === 0 ? [] : await node.mgetBuffer(keys);
        } catch (error) {
          throw this.#convert(error, 'scan (SCAN, MGET)');
        }
        const pending: PendingRecord[] = [];
        const records: OnlineRecord[] = [];
        for (const [i, name] of keys.entries()) {
          seen.add(name.toString('latin1'));
          const bytes = stored[i];
          const key = decodeKey(name.toString('utf8').slice(prefix.length));
          if (!bytes || !key) continue;
          const decode = () => {
            records.push(row(bytes, key, decoder, undefined)!);
          };
          try {
            decode();
          } catch (error) {
            if (!(error instanceof UnknownShapeError))
              throw this.#unreadable(error, key, featureSet);
            pending.push({ prefix, shapeId: error.shapeId, decode, key, featureSet });
          }
        }
        await this.#finish(node, pending);
        yield* records;
      }
    }
  }

  /** Closes the connection the store made; a client you passed in stays open. Later calls fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ready && !this.#options.client) {
      const client = await this.#ready.catch(() => undefined);
      if (client) await client.quit().catch(() => client.disconnect());
    }
  }

  /**
   * The rows of one request. A record of a shape this process has not learnt yet is left for
   * `#finish`, which fetches every such shape in one more round trip.
   */
  #decode(
    request: OnlineReadRequest,
    stored: (Buffer | null)[],
    pending: PendingRecord[],
  ): (OnlineRecord | undefined)[] {
    const oldest =
      request.ttlMs === undefined ? undefined : (request.now ?? Date.now()) - request.ttlMs;
    const decoder = new RecordDecoder(request.features);
    const prefix = versionPrefix(request.featureSet);
    const rows = new Array<OnlineRecord | undefined>(stored.length).fill(undefined);
    const { featureSet, keys } = request;
    for (let i = 0; i < stored.length; i++) {
      const bytes = stored[i];
      if (!bytes) continue;
      try {
        rows[i] = row(bytes, keys[i]!, decoder, oldest);
      } catch (error) {
        if (!(error instanceof UnknownShapeError))
          throw this.#unreadable(error, keys[i]!, featureSet);
        const decode = () => {
          rows[i] = row(bytes, keys[i]!, decoder, oldest);
        };
        pending.push({ prefix, shapeId: error.shapeId, decode, key: keys[i]!, featureSet });
      }
    }
    return rows;
  }

  #unreadable(error: unknown, key: readonly string[], featureSet: FeatureSetVersionRef): Error {
    return new FeatureStoreError(
      'INTERNAL',
      `the record of key ${JSON.stringify(key)} in feature set ${featureSet.featureSetId} v${featureSet.major} on Redis at ${this.endpoint} cannot be read: ${(error as Error).message}`,
      { cause: error },
    );
  }

  /** Fetches the shapes the pending records need (one `MGET` per node), then decodes them. */
  async #finish(client: RedisClientLike, pending: PendingRecord[]): Promise<void> {
    if (pending.length === 0) return;
    const wanted = new Map<string, PendingRecord>();
    for (const record of pending) wanted.set(shapeKey(record.prefix, record.shapeId), record);
    const keys = [...wanted.keys()];
    let shapes: (Buffer | null)[];
    try {
      if (client.isCluster) {
        // Shape keys share their records' slot; one MGET per version, sent together.
        const byPrefix = new Map<string, string[]>();
        for (const key of keys) {
          const prefix = wanted.get(key)!.prefix;
          byPrefix.set(prefix, [...(byPrefix.get(prefix) ?? []), key]);
        }
        const found = new Map<string, Buffer | null>();
        await Promise.all(
          [...byPrefix.values()].map(async (some) => {
            const replies = await client.mgetBuffer(some);
            for (const [i, key] of some.entries()) found.set(key, replies[i] ?? null);
          }),
        );
        shapes = keys.map((key) => found.get(key) ?? null);
      } else {
        shapes = await client.mgetBuffer(keys);
      }
    } catch (error) {
      throw this.#convert(error, 'read (MGET of record shapes)');
    }
    for (const [i, key] of keys.entries()) {
      const record = wanted.get(key)!;
      const shape = shapes[i];
      if (!shape) {
        throw new FeatureStoreError(
          'INTERNAL',
          `the feature names of the record of key ${JSON.stringify(record.key)} in feature set ${record.featureSet.featureSetId} v${record.featureSet.major} are missing from Redis at ${this.endpoint} (key ${key}): were keys evicted? Use maxmemory-policy noeviction or a volatile-* policy, and write the records again`,
          { details: { shapeKey: key } },
        );
      }
      try {
        learnShape(record.shapeId, shape);
      } catch (error) {
        throw new FeatureStoreError(
          'INTERNAL',
          `the feature names stored at ${key} on Redis at ${this.endpoint} cannot be read: ${(error as Error).message}`,
          { cause: error },
        );
      }
    }
    for (const record of pending) {
      try {
        record.decode();
      } catch (error) {
        throw this.#unreadable(error, record.key, record.featureSet);
      }
    }
  }

  async #runWrite(
    client: RedisClientLike,
    prefix: string,
    keys: string[],
    keep: number,
    values: Buffer[],
    shapes: ReadonlyMap<string, Buffer>,
  ): Promise<number> {
    const shapeKeys = [...shapes.keys()].map((id) => shapeKey(prefix, id));
    const args: RedisArgument[] = [
      ...keys,
      ...shapeKeys,
      keep,
      keys.length,
      ...values,
      ...shapes.values(),
    ];
    const count = keys.length + shapeKeys.length;
    return Number(
      await this.#runScript(client, WRITE_SCRIPT, WRITE_SCRIPT_SHA, count, args, 'write'),
    );
  }

  async #runScript(
    client: RedisClientLike,
    script: string,
    sha: string,
    keyCount: number,
    args: RedisArgument[],
    operation: string,
  ): Promise<unknown> {
    try {
      try {
        return await client.evalsha(sha, keyCount, ...args);
      } catch (error) {
        // Redis forgets scripts on restart, failover and SCRIPT FLUSH: EVAL sends it again
        // (and caches it for the next EVALSHA).
        if (!/^NOSCRIPT/.test((error as Error).message ?? '')) throw error;
        return await client.eval(script, keyCount, ...args);
      }
    } catch (error) {
      throw this.#convert(error, `${operation} (EVALSHA)`);
    }
  }

  async *#scanPages(node: RedisClientLike, pattern: string): AsyncGenerator<Buffer[]> {
    let cursor = '0';
    do {
      const [next, keys] = await node.scanBuffer(
        cursor,
        'MATCH',
        pattern,
        'COUNT',
        this.#scanCount,
      );
      cursor = next.toString();
      if (keys.length > 0) yield keys;
    } while (cursor !== '0');
  }

  #open(): Promise<RedisClientLike> {
    if (this.#closed) {
      return Promise.reject(
        new FeatureStoreError(
          'UNAVAILABLE',
          `the redis online store on ${this.endpoint} is closed: create a new RedisOnlineStore`,
        ),
      );
    }
    if (!this.#ready) {
      const ready = this.#connect();
      // A failed connection is made again on the next call, with a fresh client.
      ready.catch(() => {
        if (this.#ready === ready) this.#ready = undefined;
      });
      this.#ready = ready;
    }
    return this.#ready;
  }

  async #connect(): Promise<RedisClientLike> {
    const given = this.#options.client;
    if (given) {
      if (given.status === 'wait' && given.connect) {
        await given.connect().catch((error) => {
          throw this.#convert(error, 'connect');
        });
      }
      return given;
    }
    const client = await createRedisClient(this.#location!, this.#options);
    // ioredis reports connection failures as events; keep the last one to explain a failure.
    client.on('error', (error: Error) => {
      this.#connectionError = error;
    });
    client.on('ready', () => {
      this.#connectionError = undefined;
    });
    // ioredis retries a server that accepts connections but never answers; give up instead.
    const limit = this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Command timed out: no ready connection after ${limit} ms`)),
        limit,
      );
    });
    try {
      await Promise.race([client.connect!(), deadline]);
    } catch (error) {
      client.disconnect();
      throw this.#convert(error, 'connect');
    } finally {
      clearTimeout(timer);
    }
    return client;
  }

  #convert(error: unknown, operation: string): Error {
    return convertRedisError(error, {
      operation,
      endpoint: this.endpoint,
      connectionError: this.#connectionError,
    });
  }
}

/** One result row: `undefined` when past the TTL (`eventTime <= oldest`). */
function row(
  bytes: Buffer,
  key: readonly string[],
  decoder: RecordDecoder,
  oldest: number | undefined,
): OnlineRecord | undefined {
  const { eventTime, writeSequence } = readHeader(bytes);
  if (oldest !== undefined && eventTime <= oldest) return undefined;
  return { key: [...key], eventTime, writeSequence, values: decoder.values(bytes) };
}

/** A record waiting for its shape to be fetched. */
interface PendingRecord {
  prefix: string;
  shapeId: string;
  decode: () => void;
  key: readonly string[];
  featureSet: FeatureSetVersionRef;
}

/** The nodes to `SCAN`: a cluster's masters, or the one server. */
function nodesOf(client: RedisClientLike): RedisClientLike[] {
  return client.isCluster && client.nodes ? client.nodes('master') : [client];
}
