import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import {
  type MetadataStore,
  makePrivateFolder,
  type ObjectStorage,
  tightenModes,
  ValidationError,
} from '@featurestore/core';
import { PostgresMetadataStore } from '@featurestore/driver-postgres';
import type { Command } from 'commander';
import { driverOptions, type FeatureStoreConfig } from '../config.js';
import { DriverRegistry } from '../driver-registry.js';
import { defaultStorageUrl } from '../storage-urls.js';
import { type ArchiveSummary, importStore } from '../store-archive.js';
import { StoreLock } from '../store-lock.js';
import { configOf, type GlobalOptions } from './context.js';
import { describeArchive } from './export-command.js';
import type { CliIo } from './io.js';

/**
 * Imports the archive in `dir` into the metadata store and storage of `config`, which must
 * be empty: a PostgreSQL schema (or a plugin's metadata driver), or an embedded store folder
 * (under its lock, as every process opening it). Opens only those two parts, with the
 * config's migrations: opening the whole store would create its local admin user, and the
 * target would no longer be empty.
 */
export async function importArchive(
  config: FeatureStoreConfig,
  dir: string,
): Promise<ArchiveSummary> {
  const registry = new DriverRegistry();
  for (const plugin of config.plugins) await registry.loadPlugin(plugin, process.cwd());
  const drivers = driverOptions(config);
  await registry.validateDriverBlocks(drivers);
  const storeDir = resolve(config.store);
  const context = {
    storeDir,
    clientId: 'featurestore-import',
    metadataSchema: config.metadataSchema,
    migrations: config.migrations,
  };
  const openStorage = () =>
    registry.open(
      'storage',
      config.storage ?? defaultStorageUrl(storeDir),
      drivers,
      context,
      'storage',
    );
  if (config.metadata !== undefined) {
    const url = config.metadata;
    return importInto(
      () => registry.open('metadata', url, drivers, context, 'metadata'),
      openStorage,
      dir,
    );
  }
  const lock = await StoreLock.acquire(storeDir);
  const pgliteDir = join(storeDir, 'metadata');
  try {
    await makePrivateFolder(storeDir);
    await makePrivateFolder(pgliteDir);
    const pglite = await PGlite.create(pgliteDir);
    try {
      const metadata = () =>
        PostgresMetadataStore.open({
          pglite,
          schema: config.metadataSchema,
          migrations: config.migrations,
        });
      return await importInto(metadata, openStorage, dir);
    } finally {
      await pglite.close();
      // PGlite creates its files 0666; the store keeps them its owner's alone.
      await tightenModes(pgliteDir);
    }
  } finally {
    await lock.release();
  }
}

async function importInto(
  openMetadata: () => Promise<MetadataStore>,
  openStorage: () => Promise<ObjectStorage>,
  dir: string,
): Promise<ArchiveSummary> {
  const metadata = await openMetadata();
  let storage: ObjectStorage | undefined;
  try {
    storage = await openStorage();
    return await importStore(metadata, storage, dir);
  } finally {
    await storage?.close?.();
    await metadata.close();
  }
}

/**
 * `featurestore import DIR`: the other half of `featurestore export`, into an empty store
 * (docs/operations.md, "Moving from the embedded store to PostgreSQL").
 */
export function registerImportCommand(program: Command, io: CliIo): void {
  program
    .command('import')
    .argument('<dir>', 'the folder featurestore export wrote')
    .description(
      'insert the records and copy the data files of an export archive into an empty store (PostgreSQL and object storage, or an embedded folder), checking every checksum first (admins: whoever holds the database credentials)',
    )
    .action(async (dir: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      if (options.endpoint !== undefined) {
        throw new ValidationError(
          'featurestore import writes the database and storage itself, not through a server: give the target (--store, or --config, --metadata and --storage) instead of --endpoint',
          { details: { field: '--endpoint', value: options.endpoint } },
        );
      }
      const config = await configOf(options);
      const source = resolve(dir);
      const summary = await importArchive(config, source);
      if (options.json) {
        io.stdout(`${JSON.stringify({ dir: source, ...summary }, null, 2)}\n`);
      } else {
        io.stdout(`${describeArchive('imported from', source, summary)}\n`);
      }
    });
}
