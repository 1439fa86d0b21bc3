import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { makePrivateFolder, tightenModes, ValidationError } from '@featurestore/core';
import { PostgresMetadataStore, PostgresOnlineStore } from '@featurestore/driver-postgres';
import type { Command } from 'commander';
import { driverOptions, type FeatureStoreConfig } from '../config.js';
import { DriverRegistry } from '../driver-registry.js';
import { redactSecrets } from '../redact-secrets.js';
import { StoreLock } from '../store-lock.js';
import { configOf, type GlobalOptions } from './context.js';
import type { CliIo } from './io.js';

/** What `featurestore migrate` did to one part's schema. */
export interface PartMigration {
  /** `metadata` or `online`. */
  part: 'metadata' | 'online';
  /** Where, without passwords. */
  target: string;
  /** The versions applied now (empty: the schema was current). */
  applied: number[];
  /** The version the schema is at now; undefined for a plugin driver, which does not say. */
  version?: number;
}

/**
 * Brings the schemas of the configured store up to this release: the metadata store's and,
 * when online values live in PostgreSQL, the online tables'. Each runs in one transaction
 * under PostgreSQL's advisory migration lock, so concurrent runs take turns and all but the
 * first find nothing to do. The embedded store is migrated under its folder's lock.
 */
export async function migrateStore(config: FeatureStoreConfig): Promise<PartMigration[]> {
  const schema = config.metadataSchema;
  if (config.metadata === undefined) return migrateEmbedded(config);
  const registry = new DriverRegistry();
  for (const plugin of config.plugins) await registry.loadPlugin(plugin, process.cwd());
  const drivers = driverOptions(config);
  const results: PartMigration[] = [];
  const metadataDriver = await registry.descriptor('metadata', config.metadata, 'metadata');
  if (metadataDriver.name === 'postgres') {
    const done = await PostgresMetadataStore.migrate({ connectionString: config.metadata, schema });
    results.push({ part: 'metadata', target: redactSecrets(config.metadata), ...done });
  } else {
    // A plugin's metadata driver migrates on open, as the built-in one does with "apply".
    const context = {
      storeDir: resolve(config.store),
      clientId: 'featurestore-migrate',
      metadataSchema: schema,
      migrations: 'apply' as const,
    };
    const store = await registry.open('metadata', config.metadata, drivers, context, 'metadata');
    await store.close();
    results.push({ part: 'metadata', target: redactSecrets(config.metadata), applied: [] });
  }
  const onlineUrl = config.online ?? config.metadata;
  const onlineDriver =
    config.online === undefined
      ? 'postgres-online'
      : (await registry.descriptor('online', config.online, 'online')).name;
  if (onlineDriver === 'postgres-online') {
    const block = drivers['postgres-online'] as { schema?: string } | undefined;
    const done = await PostgresOnlineStore.migrate({
      connectionString: onlineUrl,
      schema: block?.schema ?? schema,
    });
    results.push({ part: 'online', target: redactSecrets(onlineUrl), ...done });
  }
  return results;
}

/** The embedded PGlite: its folder's lock first, as every process opening it takes. */
async function migrateEmbedded(config: FeatureStoreConfig): Promise<PartMigration[]> {
  const storeDir = resolve(config.store);
  const lock = await StoreLock.acquire(storeDir);
  try {
    const pgliteDir = join(storeDir, 'metadata');
    await makePrivateFolder(pgliteDir);
    const schema = config.metadataSchema;
    // One PGlite for both, as the embedded store opens it (each start takes a while).
    const pglite = await PGlite.create(pgliteDir);
    const results: PartMigration[] = [];
    try {
      const metadata = await PostgresMetadataStore.migrate({ pglite, schema });
      results.push({ part: 'metadata', target: pgliteDir, ...metadata });
      if (config.online === undefined) {
        const online = await PostgresOnlineStore.migrate({ pglite, schema });
        results.push({ part: 'online', target: pgliteDir, ...online });
      }
    } finally {
      await pglite.close();
    }
    // PGlite creates its files 0666; the store keeps them its owner's alone.
    await tightenModes(pgliteDir);
    return results;
  } finally {
    await lock.release();
  }
}

function describe(result: PartMigration): string {
  const where = `${result.part === 'metadata' ? 'metadata' : 'online store'} (${result.target})`;
  if (result.version === undefined) return `${where}: opened with its driver's migrations applied`;
  return result.applied.length === 0
    ? `${where}: already at migration ${result.version}`
    : `${where}: applied migration${result.applied.length > 1 ? 's' : ''} ${result.applied.join(', ')}; now at ${result.version}`;
}

/**
 * `featurestore migrate`: applies the schema migrations of the configured store and exits.
 * Deployments run it as a step of their own (the Helm chart's pre-install/pre-upgrade Job)
 * and start servers with `migrations: "require"`.
 */
export function registerMigrateCommand(program: Command, io: CliIo): void {
  program
    .command('migrate')
    .description(
      "apply the metadata store's schema migrations (and the PostgreSQL online store's) and exit; safe to repeat and to run twice at once",
    )
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions & { endpoint?: string }>();
      if (options.endpoint !== undefined) {
        throw new ValidationError(
          'featurestore migrate changes the database itself, not through a server: give the store (--config, --metadata or FEATURESTORE_METADATA_URL) instead of --endpoint',
          { details: { field: '--endpoint', value: options.endpoint } },
        );
      }
      const config = await configOf(options);
      const results = await migrateStore(config);
      if (options.json) {
        io.stdout(`${JSON.stringify({ items: results }, null, 2)}\n`);
      } else {
        for (const result of results) io.stdout(`${describe(result)}\n`);
      }
    });
}
