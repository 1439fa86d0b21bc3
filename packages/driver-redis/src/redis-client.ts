import { loadModule, ValidationError } from '@featurestore/core/driver';
import type { ClusterOptions, RedisOptions } from 'ioredis';

/** The classes the store takes from `ioredis`. */
export type IoredisModule = Pick<typeof import('ioredis'), 'Redis' | 'Cluster'>;

/** A command argument as `ioredis` takes it. */
export type RedisArgument = string | Buffer | number;

/**
 * The part of an `ioredis` client the store uses. A `Redis` or `Cluster` from `ioredis` 5 or 6
 * fits as it is; so does anything else with these methods (a wrapper that counts calls, a
 * client with your own TLS, Sentinel or retry settings). The store never closes a client it
 * was given.
 */
export interface RedisClientLike {
  mgetBuffer(keys: (string | Buffer)[]): Promise<(Buffer | null)[]>;
  evalsha(sha: string, numKeys: number, ...args: RedisArgument[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: RedisArgument[]): Promise<unknown>;
  unlink(...keys: (string | Buffer)[]): Promise<number>;
  scanBuffer(
    cursor: string,
    matchToken: 'MATCH',
    pattern: string,
    countToken: 'COUNT',
    count: number,
  ): Promise<[cursor: Buffer, keys: Buffer[]]>;
  quit(): Promise<unknown>;
  disconnect(): void;
  /** `wait` for a client made with `lazyConnect` that has not connected yet. */
  readonly status?: string;
  /** True for a Redis Cluster client: reads of several feature sets go to their own slots. */
  readonly isCluster?: boolean;
  connect?(): Promise<void>;
  /** A cluster's nodes: `SCAN` runs on every master. */
  nodes?(role: 'master'): RedisClientLike[];
}

/** How the store connects when it creates its own client. */
export interface RedisConnectionOptions {
  /** Connecting, until the server answers, fails after this long (default 5 s). */
  connectTimeoutMs?: number;
  /** A command without a reply fails after this long (default 10 s): a dead server never hangs a call. */
  commandTimeoutMs?: number;
  /** Any other `ioredis` option (TLS, `db`, `keyPrefix` is refused); wins over the above. */
  redisOptions?: RedisOptions;
  /** Any other `Cluster` option, for `redis-cluster://` URLs. */
  clusterOptions?: ClusterOptions;
}

/** A parsed store URL. */
export interface RedisLocation {
  cluster: boolean;
  tls: boolean;
  nodes: { host: string; port: number }[];
  username?: string;
  password?: string;
  db?: number;
  /** The nodes as error messages name them: no credentials. */
  endpoint: string;
}

/**
 * Parses `redis://[user:password@]host[:port][/db]`, `rediss://…` (TLS),
 * `redis-cluster://[user:password@]host:port,host:port` and `rediss-cluster://…`.
 *
 * @example
 * parseRedisUrl('redis-cluster://10.0.0.1:7000,10.0.0.2:7000').nodes.length; // 2
 */
export function parseRedisUrl(url: string): RedisLocation {
  const match = /^(rediss?)(-cluster)?:\/\/(?:([^@/]*)@)?([^/?#]*)(?:\/([^?#]*))?$/.exec(url);
  if (!match) {
    throw new ValidationError(
      `"${redact(url)}" is not a Redis URL: use redis://host:port, rediss://host:port or redis-cluster://host:port,host:port`,
      { details: { field: 'url' } },
    );
  }
  const [, scheme, cluster, userinfo, hosts, path] = match;
  const nodes = hosts!.split(',').map((node) => parseNode(node, url));
  if (!cluster && nodes.length > 1) {
    throw new ValidationError(
      `"${redact(url)}" names several hosts: use redis-cluster://host:port,host:port for a cluster`,
      { details: { field: 'url' } },
    );
  }
  let db: number | undefined;
  if (path) {
    if (cluster || !/^\d+$/.test(path)) {
      throw new ValidationError(
        `"${redact(url)}" has the path "/${path}": only a database number is allowed, and none for a cluster`,
        { details: { field: 'url' } },
      );
    }
    db = Number(path);
  }
  const location: RedisLocation = {
    cluster: cluster !== undefined,
    tls: scheme === 'rediss',
    nodes,
    endpoint: nodes.map((node) => `${node.host}:${node.port}`).join(','),
  };
  if (userinfo) {
    const colon = userinfo.indexOf(':');
    const user = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon));
    if (colon >= 0) location.password = decodeURIComponent(userinfo.slice(colon + 1));
    if (user) location.username = user;
  }
  if (db !== undefined) location.db = db;
  return location;
}

/** Creates the store's own client, loading `ioredis` on first use. It connects before use. */
export async function createRedisClient(
  location: RedisLocation,
  options: RedisConnectionOptions,
): Promise<RedisClientLike & NodeJS.EventEmitter> {
  const { Redis, Cluster } = await loadIoredis();
  const common: RedisOptions = {
    lazyConnect: true,
    // Fail fast while disconnected instead of queueing commands until Redis comes back.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: options.connectTimeoutMs ?? 5000,
    commandTimeout: options.commandTimeoutMs ?? 10_000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    ...(location.username === undefined ? {} : { username: location.username }),
    ...(location.password === undefined ? {} : { password: location.password }),
    ...(location.tls ? { tls: {} } : {}),
    ...options.redisOptions,
  };
  if ((common as { keyPrefix?: string }).keyPrefix) {
    throw new ValidationError(
      'the redis online store does not take a keyPrefix: its key layout is fixed (fs:{<featureSetId>:<major>}:…); use a separate database or instance instead',
      { details: { field: 'keyPrefix' } },
    );
  }
  if (location.cluster) {
    const { lazyConnect, enableOfflineQueue, ...redisOptions } = common;
    return new Cluster(location.nodes, {
      lazyConnect,
      enableOfflineQueue,
      clusterRetryStrategy: (attempt) => Math.min(attempt * 100, 2000),
      slotsRefreshTimeout: common.connectTimeout,
      redisOptions,
      ...options.clusterOptions,
    }) as unknown as RedisClientLike & NodeJS.EventEmitter;
  }
  const [node] = location.nodes;
  return new Redis({
    host: node!.host,
    port: node!.port,
    ...(location.db === undefined ? {} : { db: location.db }),
    ...common,
  }) as unknown as RedisClientLike & NodeJS.EventEmitter;
}

/**
 * Imports `ioredis` on first use, so merely importing the driver costs nothing, and a missing
 * package fails with a message naming it instead of a bare module-resolution error.
 */
export async function loadIoredis(
  load: () => Promise<IoredisModule> = () => import('ioredis'),
): Promise<IoredisModule> {
  const { Redis, Cluster } = await loadModule('redis online store', 'ioredis', load);
  return { Redis, Cluster };
}

function parseNode(node: string, url: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(node);
  const port = match?.[2] === undefined ? 6379 : Number(match[2]);
  if (!match || port < 1 || port > 65_535) {
    throw new ValidationError(
      `"${redact(url)}" has the host "${node}": use host or host:port, with a port from 1 to 65535`,
      { details: { field: 'url' } },
    );
  }
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^@/:]*):[^@/]*@/, '//$1:***@');
}
