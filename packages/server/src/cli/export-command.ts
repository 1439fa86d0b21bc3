import { resolve } from 'node:path';
import { PermissionDeniedError, ValidationError } from '@featurestore/core';
import type { Command } from 'commander';
import { type ArchiveSummary, exportStore } from '../store-archive.js';
import { VERSION } from '../version.js';
import { type GlobalOptions, withStore } from './context.js';
import type { CliIo } from './io.js';

/** One line per kind of record, then the data files: what an export or import moved. */
export function describeArchive(verb: string, dir: string, summary: ArchiveSummary): string {
  const records = Object.entries(summary.records)
    .map(([kind, count]) => `${kind}: ${count}`)
    .join(', ');
  return `${verb} ${dir}\nrecords: ${records}\ndata files: ${summary.dataFiles} (${summary.dataBytes} bytes)`;
}

/**
 * `featurestore export DIR`: writes the store's metadata records and data files into an
 * archive folder that `featurestore import` reads (docs/operations.md, "Moving from the
 * embedded store to PostgreSQL").
 */
export function registerExportCommand(program: Command, io: CliIo): void {
  program
    .command('export')
    .argument('<dir>', 'a new or empty folder to write the archive into')
    .description(
      'write every metadata record (JSON Lines) and data file of the store, with checksums, into DIR for featurestore import (admins)',
    )
    .action(async (dir: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      if (options.endpoint !== undefined) {
        throw new ValidationError(
          'featurestore export reads the store itself, not through a server: give the store (--store, --config or --metadata) instead of --endpoint',
          { details: { field: '--endpoint', value: options.endpoint } },
        );
      }
      await withStore(io, async (ctx) => {
        if (!ctx.store.principal.admin) {
          throw new PermissionDeniedError(
            `${ctx.store.principal.name} is not an admin: only admins export a store (it holds every record and token hash)`,
            { details: { principal: ctx.store.principal.name } },
          );
        }
        const target = resolve(dir);
        const summary = await exportStore(
          ctx.store.engine.drivers.metadata,
          ctx.store.storage,
          target,
          VERSION,
        );
        ctx.message(describeArchive('exported to', target, summary), { dir: target, ...summary });
      })(command);
    });
}
