import { join } from 'node:path';
import { defineDriver } from '@featurestore/core/driver';
import { z } from 'zod';
import { DuckDbComputeEngine } from './duckdb-compute-engine.js';

/** The `drivers.duckdb` block of a configuration. */
export const duckDbDriverOptions = z
  .object({
    /** Worker threads (default: one per core). */
    threads: z.number().int().positive().optional(),
    /** DuckDB's memory limit, e.g. `"2GB"` (default: 80% of RAM); larger work spills to disk. */
    memoryLimit: z
      .string()
      .regex(/^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, 'must be a size like "2GB"')
      .optional(),
    /** Where joins and sorts spill (default: `<store>/tmp`). */
    tempDirectory: z.string().min(1).optional(),
  })
  .strict()
  .default({});

/** The local compute engine, in process: `duckdb://` (the default). */
export const duckDbDriver = defineDriver({
  name: 'duckdb',
  port: 'compute',
  schemes: ['duckdb'],
  options: duckDbDriverOptions,
  open: (_url, options, context) =>
    new DuckDbComputeEngine({
      ...options,
      tempDirectory: options.tempDirectory ?? join(context.storeDir, 'tmp'),
    }),
});
