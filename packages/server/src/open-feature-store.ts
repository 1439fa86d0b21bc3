import { randomUUID } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import {
  type DriverContext,
  type DriverPort,
  type DriverPorts,
  FeatureStoreEngine,
  FeatureStoreError,
  LocalLogQueue,
  type MessageQueue,
  type MetadataOutageEvent,
  type MetadataStore,
  makePrivateFolder,
  NamespacedQueue,
  type ObjectStorage,
  type OnlineStore,
  PRIVATE_FOLDER_MODE,
  type Principal,
  parseDuration,
  StagingComputeEngine,
  tightenModes,
  UnauthenticatedError,
} from '@featurestore/core';
import { PostgresMetadataStore, PostgresOnlineStore } from '@featurestore/driver-postgres';
import {
  driverOptions,
  type FeatureStoreConfig,
  type FeatureStoreConfigInput,
  parseConfig,
} from './config.js';
import { DriverRegistry } from './driver-registry.js';
import { openWhenMigrated } from './migration-wait.js';
import { redactSecrets } from './redact-secrets.js';
import { defaultStorageUrl, StorageRegistry } from './storage-urls.js';
import { StoreLock } from './store-lock.js';
import { bindStoreParts } from './store-parts.js';
import type { WorkerReports } from './worker-log.js';

/** An open feature store: the engine, its drivers, and the principal in-process calls use. */
export interface FeatureStore {
  readonly config: FeatureStoreConfig;
  readonly engine: FeatureStoreEngine;
  readonly storage: ObjectStorage;
  /** The local admin, unless `openFeatureStore` was given a token or user to act as. */
  readonly principal: Principal;
  /** Resolves a bearer token (a personal access token) to its principal. */
  authenticate(token: string): Promise<Principal>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /**
   * The drivers to open the parts with (default: the built-in ones, plus the config's
   * `plugins`). Register a driver here to use its schemes without a plugin module.
   */
  registry?: DriverRegistry;
  /** Act as the owner of this personal access token instead of the local admin. */
  token?: string;
  /** How long to wait for another process holding the embedded store (default 3 s). */
  lockWaitMs?: number;
  /**
   * Let an embedded store use other online, queue or storage parts than those it remembers
   * (`<store>/store.json`, written on the first open), and remember these from now on.
   * Without it, other parts are refused: a forgotten `--online` would read an empty store.
   */
  rebind?: boolean;
  /**
   * Start this process's online workers once open: the apply worker and the online → offline
   * sync worker (both stop on close). Needs an online store. Without it, a store on the
   * embedded local log queue starts them on its first push (nobody else reads that queue);
   * with Kafka, pushes are applied by the workers of `featurestore online workers`.
   */
  workers?: boolean;
  /**
   * Most pushed rows per queue batch of the embedded local log (default 500): also the most
   * rows the offline sync commits per ingestion and partition. Kafka batches by bytes instead.
   */
  queueBatchSize?: number;
  /** The least time between two offline syncs of one queue partition (default 0). */
  offlineSyncIntervalMs?: number;
  /** Where the online workers report failed batches and dead letters (see `workerReports`). */
  reports?: WorkerReports;
  /**
   * Told when online reads begin and stop being served from last known lookups because the
   * metadata database is unreachable (default: a line on stderr); `engine.metadataOutage`
   * holds the state.
   */
  onMetadataOutage?: (event: MetadataOutageEvent) => void;
  /**
   * The clock the online metadata cache and the staleness of last known lookups go by, in
   * epoch ms (default `Date.now`): tests move theirs instead of waiting.
   */
  metadataClock?: () => number;
}

/**
 * Opens a feature store from a config; with none, everything is embedded under
 * `./.featurestore` (PGlite metadata, local files).
 *
 * @example
 * const fs = await openFeatureStore();
 * await fs.engine.projects.create(fs.principal, { name: 'fraud' });
 * await fs.close();
 */
export async function openFeatureStore(
  input: FeatureStoreConfigInput | FeatureStoreConfig = {},
  options: OpenOptions = {},
): Promise<FeatureStore> {
  const config = parseConfig(input);
  const storeDir = resolve(config.store);
  // Only the embedded PGlite needs one owner per folder; PostgreSQL serves many processes.
  const lock =
    config.metadata === undefined
      ? await StoreLock.acquire(
          storeDir,
          options.lockWaitMs === undefined ? {} : { waitMs: options.lockWaitMs },
        )
      : undefined;
  await makeStorePrivate(storeDir);
  const registry = options.registry ?? new DriverRegistry();
  // What is open so far, closed in reverse order if a later part fails to open.
  const opened: { close(): Promise<void> }[] = [];
  let pglite: PGlite | undefined;
  try {
    for (const plugin of config.plugins) await registry.loadPlugin(plugin, process.cwd());
    // Every part's scheme is known before anything connects: a typo fails fast, naming the key.
    for (const port of ['metadata', 'online', 'queue', 'storage', 'compute'] as const) {
      const url = config[port];
      if (url !== undefined) registry.check(port, url, port);
    }
    const drivers = driverOptions(config);
    await registry.validateDriverBlocks(drivers);
    const context: DriverContext = {
      storeDir,
      clientId: 'featurestore',
      metadataSchema: config.metadataSchema,
      migrations: config.migrations,
    };
    const open = async <P extends DriverPort>(port: P, url: string): Promise<DriverPorts[P]> => {
      const part = await registry.open(port, url, drivers, context, port);
      opened.push(part as { close(): Promise<void> });
      return part;
    };
    const rememberParts =
      lock && (await bindStoreParts(storeDir, config, { rebind: options.rebind === true }));
    // One embedded PGlite serves metadata and the online store (opening one takes ~0.5 s).
    if (config.metadata === undefined) {
      const dir = join(storeDir, 'metadata');
      await makePrivateFolder(dir);
      pglite = await PGlite.create(dir);
    }
    // With migrations "require", an older schema may be waited for (featurestore migrate).
    const migrated = <T>(openPart: () => Promise<T>) =>
      openWhenMigrated(openPart, {
        waitSeconds: config.migrationWaitSeconds,
        onWait: (message) => process.stderr.write(`${message}\n`),
      });
    const embedded = pglite;
    const metadata: MetadataStore = embedded
      ? await migrated(() =>
          PostgresMetadataStore.open({
            pglite: embedded,
            schema: config.metadataSchema,
            migrations: config.migrations,
          }),
        )
      : await migrated(() => open('metadata', config.metadata!));
    if (pglite) opened.push(metadata);
    const online: OnlineStore =
      config.online !== undefined
        ? await migrated(() => open('online', config.online!))
        : await migrated(() =>
            PostgresOnlineStore.open({
              // By default online values live in the metadata database.
              ...(embedded ? { pglite: embedded } : { connectionString: config.metadata! }),
              schema: config.metadataSchema,
              migrations: config.migrations,
            }),
          );
    if (config.online === undefined) opened.push(online);
    const queue = withNamespace(
      config.queue !== undefined
        ? await open('queue', config.queue)
        : new LocalLogQueue({
            directory: join(storeDir, 'queue'),
            ...(options.queueBatchSize === undefined
              ? {}
              : { maxBatchSize: options.queueBatchSize }),
          }),
      config.queueNamespace,
    );
    if (config.queue === undefined) opened.push(queue);
    const storages = new StorageRegistry(
      await open('storage', config.storage ?? defaultStorageUrl(storeDir)),
      (root) => registry.open('storage', root, drivers, context, 'sources'),
    );
    opened.push(storages);
    if (lock) await rm(join(storeDir, 'tmp', 'spill'), { recursive: true, force: true });
    // DuckDB spills here: rows of the store's data, so private like the rest.
    await makePrivateFolder(join(storeDir, 'tmp'));
    // The compute engine reads local files: remote data is staged in a spill folder of this instance.
    const compute = new StagingComputeEngine(
      await open('compute', config.compute),
      storages.locate,
      join(storeDir, 'tmp', 'spill', randomUUID()),
    );
    const engine = new FeatureStoreEngine({
      metadata,
      storage: storages.main,
      compute,
      locate: storages.locate,
      // Token and OIDC callers read only under the landing roots; nobody reads the store's
      // own folders (the storage root is protected by the engine itself).
      sourceAccess: {
        roots: config.sources.roots,
        protected: ['metadata', 'queue', 'tmp'].map((folder) => join(storeDir, folder)),
      },
      online: { store: online, queue },
      offlineSync: {
        ...(options.offlineSyncIntervalMs === undefined
          ? {}
          : { intervalMs: options.offlineSyncIntervalMs }),
        ...options.reports,
      },
      ...(config.onlineMetadataCacheMs === undefined
        ? {}
        : { onlineMetadataCacheMs: config.onlineMetadataCacheMs }),
      ...(config.onlineMetadataTimeoutMs === undefined
        ? {}
        : { onlineMetadataTimeoutMs: config.onlineMetadataTimeoutMs }),
      ...(config.onlineMetadataMaxStalenessMs === undefined
        ? {}
        : { onlineMetadataMaxStalenessMs: config.onlineMetadataMaxStalenessMs }),
      ...(options.metadataClock === undefined
        ? {}
        : { onlineMetadataClock: options.metadataClock }),
      ...(options.onMetadataOutage === undefined
        ? {}
        : { onMetadataOutage: options.onMetadataOutage }),
      outputRetentionMs: parseDuration('outputRetention', config.outputRetention),
    });
    // From here the engine closes every driver it was given.
    opened.splice(0, opened.length, { close: () => engine.close() }, storages);
    if (lock) await recoverEmbedded(engine);
    if (rememberParts) await rememberParts();
    const onDeadLetter = options.reports ? { onDeadLetter: options.reports.onDeadLetter } : {};
    if (options.workers) {
      await engine.online?.startWorker({ offlineSync: true, ...onDeadLetter });
    } else if (config.queue === undefined) {
      // The local log is this process's alone: nobody else would apply what it pushes.
      engine.online?.startWorkersOnPush(onDeadLetter);
    }
    const authenticate = async (token: string): Promise<Principal> => {
      const principal = await engine.tokens.authenticate({ kind: 'bearer', token });
      if (!principal)
        throw new UnauthenticatedError('the token is not a Featurestore access token');
      return principal;
    };
    const principal =
      options.token === undefined
        ? await engine.access.localAdmin()
        : await authenticate(options.token);
    return {
      config,
      engine,
      storage: storages.main,
      principal,
      authenticate,
      async close() {
        await engine.close();
        await storages.close();
        await pglite?.close();
        // PGlite creates its files 0666 (the folder above keeps them private meanwhile).
        if (pglite) await tightenModes(join(storeDir, 'metadata'));
        await lock?.release();
      },
    };
  } catch (error) {
    for (const part of opened.reverse()) await part.close().catch(() => undefined);
    await pglite?.close().catch(() => undefined);
    await lock?.release();
    throw error;
  }
}

/**
 * Makes the store folder its owner's alone (0700 folders, 0600 files). A store whose folder
 * is not yet 0700 was made by an older release or with loose modes: all of it is tightened,
 * the folder itself last, so an interrupted pass is redone. Otherwise only the PGlite folder
 * is (PGlite creates files 0666; a process killed before `close` leaves them so).
 */
async function makeStorePrivate(storeDir: string): Promise<void> {
  await makePrivateFolder(storeDir);
  const loose = ((await stat(storeDir)).mode & 0o777) !== PRIVATE_FOLDER_MODE;
  await tightenModes(loose ? storeDir : join(storeDir, 'metadata'));
}

/**
 * The lock proves no other process uses the embedded store, so jobs still marked running
 * were interrupted (a killed process): finish the online applies of ingestions they committed
 * (those jobs succeeded: their ingestion is committed), mark the others failed and remove
 * their orphaned files.
 */
async function recoverEmbedded(engine: FeatureStoreEngine): Promise<void> {
  await engine.onlineApplies?.resumePending();
  const interrupted = await engine.jobs.failInterrupted();
  // The rest cleans storage, which may be out of reach right now (a bucket not created yet,
  // credentials being rotated): the store still opens, and the next open or `featurestore gc`
  // finishes the cleaning.
  await whenStorageAnswers(async () => {
    if (interrupted.some((job) => job.type === 'ingest')) {
      await engine.offline.collectGarbage({ graceMs: 0 });
    }
    // Sole owner: a recorded deletion is either committed (purge it) or never will be. Both
    // this and the expired outputs list a small folder (`deletions/`, `outputs/`), not the data.
    await engine.deletedData.purgePending({ graceMs: 0 });
    await engine.outputs.removeExpired();
  });
}

/** Runs `clean`, leaving it for later when storage is missing, unreachable or refuses us. */
async function whenStorageAnswers(clean: () => Promise<void>): Promise<void> {
  try {
    await clean();
  } catch (error) {
    const environment = ['NOT_FOUND', 'UNAVAILABLE', 'PERMISSION_DENIED', 'UNAUTHENTICATED'];
    if (!(error instanceof FeatureStoreError) || !environment.includes(error.code)) throw error;
  }
}

/** The queue under this store's namespace, when it has one (several stores share a Kafka). */
function withNamespace(queue: MessageQueue, namespace: string | undefined): MessageQueue {
  return namespace === undefined ? queue : new NamespacedQueue(queue, namespace);
}

/**
 * The composed configuration with defaults filled in, as `quickstart` and `config` show it:
 * passwords and other secrets in its URLs are blanked (`redactSecrets`).
 */
export function describeConfig(config: FeatureStoreConfig): Record<string, string> {
  const storeDir = resolve(config.store);
  return {
    store: storeDir,
    metadata: config.metadata
      ? `postgresql (${redactSecrets(config.metadata)}, schema ${config.metadataSchema})`
      : `pglite (${join(storeDir, 'metadata')})`,
    online: config.online
      ? redactSecrets(config.online)
      : `${config.metadata ? 'postgresql' : 'pglite'} (with the metadata)`,
    queue: `${config.queue === undefined ? `local log (${join(storeDir, 'queue')})` : redactSecrets(config.queue)}${config.queueNamespace ? `, namespace ${config.queueNamespace}` : ''}`,
    storage: redactSecrets(config.storage ?? defaultStorageUrl(storeDir)),
    compute: config.compute === 'duckdb://' ? 'duckdb (in-process)' : redactSecrets(config.compute),
  };
}
