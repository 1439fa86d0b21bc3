import { resolve } from 'node:path';
import { type MetadataStore, type ObjectStorage, ValidationError } from '@featurestore/core';
import type { Command } from 'commander';
import { driverOptions, type FeatureStoreConfig, loadConfig } from '../config.js';
import { DriverRegistry } from '../driver-registry.js';
import { defaultStorageUrl } from '../storage-urls.js';
import { type ArchiveSummary, importStore } from '../store-archive.js';
import type { GlobalOptions } from './context.js';
import { describeArchive } from './export-command.js';
import type { CliIo } from './io.js';

/**
 * Imports the archive in `dir` into the metadata database and storage of `config`, which
 * must be empty. Opens only those two parts, with the config's migrations: opening the
 * whole store would create its local admin user, and the target would no longer be empty.
 */
export async function importArchive(
  config: FeatureStoreConfig,
  dir: string,
): Promise<ArchiveSummary> {
  if (config.metadata === undefined) {
    throw new ValidationError(
      'featurestore import goes into a metadata database: give it with --metadata postgres://…, FEATURESTORE_METADATA_URL or the config file (and the storage with --storage)',
      { details: { field: '--metadata' } },
    );
  }
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
  const metadata: MetadataStore = await registry.open(
    'metadata',
    config.metadata,
    drivers,
    context,
    'metadata',
  );
  let storage: ObjectStorage | undefined;
  try {
    const storageUrl = config.storage ?? defaultStorageUrl(storeDir);
    storage = await registry.open('storage', storageUrl, drivers, context, 'storage');
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
      'insert the records and copy the data files of an export archive into an empty metadata database and storage, checking every checksum first (admins: whoever holds the database credentials)',
    )
    .action(async (dir: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      if (options.endpoint !== undefined) {
        throw new ValidationError(
          'featurestore import writes the database and storage itself, not through a server: give the target (--config, --metadata and --storage) instead of --endpoint',
          { details: { field: '--endpoint', value: options.endpoint } },
        );
      }
      const config = await loadConfig({
        ...(options.config === undefined ? {} : { file: options.config }),
        overrides: {
          store: options.store,
          metadata: options.metadata,
          storage: options.storage,
          plugins: options.plugin?.map((plugin) =>
            /^\.{1,2}[\\/]/.test(plugin) ? resolve(plugin) : plugin,
          ),
        },
      });
      const source = resolve(dir);
      const summary = await importArchive(config, source);
      if (options.json) {
        io.stdout(`${JSON.stringify({ dir: source, ...summary }, null, 2)}\n`);
      } else {
        io.stdout(`${describeArchive('imported from', source, summary)}\n`);
      }
    });
}
