import { defineDriver } from '@featurestore/core/driver';
import { z } from 'zod';
import { PostgresOnlineStore } from './online/index.js';
import { PostgresMetadataStore } from './postgres-metadata-store.js';

const SCHEMES = ['postgres', 'postgresql'];
const identifier = z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'must be a lowercase identifier');

/** The metadata store on PostgreSQL: `postgres://user:password@host:port/database`. */
export const postgresMetadataDriver = defineDriver({
  name: 'postgres',
  port: 'metadata',
  schemes: SCHEMES,
  options: z.object({}).strict().default({}),
  open: (url, _options, context) =>
    PostgresMetadataStore.open({
      connectionString: url,
      schema: context.metadataSchema,
      ...(context.migrations === undefined ? {} : { migrations: context.migrations }),
    }),
});

/** The `drivers.postgres-online` block of a configuration. */
export const postgresOnlineDriverOptions = z
  .object({
    /** The schema of `online_records` (default: the metadata schema). */
    schema: identifier.optional(),
    /** Records per upsert statement (default 5000). */
    writeBatchSize: z.number().int().positive().optional(),
    /** Records per page of a scan (default 1000). */
    scanPageSize: z.number().int().positive().optional(),
  })
  .strict()
  .default({});

/** The online store on PostgreSQL: `postgres://…`, in the metadata database or another one. */
export const postgresOnlineDriver = defineDriver({
  name: 'postgres-online',
  port: 'online',
  schemes: SCHEMES,
  options: postgresOnlineDriverOptions,
  open: (url, options, context) =>
    PostgresOnlineStore.open({
      connectionString: url,
      ...options,
      schema: options.schema ?? context.metadataSchema,
      ...(context.migrations === undefined ? {} : { migrations: context.migrations }),
    }),
});
