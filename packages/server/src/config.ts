import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { DEFAULT_OUTPUT_RETENTION, parseDuration, ValidationError } from '@featurestore/core';
import { z } from 'zod';

/**
 * One configuration for every way of running Featurestore. Every part has an embedded
 * default, so an empty config works: metadata in PGlite and data in local files, both
 * under `store`.
 */
export const configSchema = z
  .object({
    /** The embedded store folder (PGlite metadata, local data, the process lock). */
    store: z.string().min(1).default('./.featurestore'),
    /**
     * Modules that export driver descriptors (package names, or paths relative to the config
     * file): their URL schemes then work in every part below.
     */
    plugins: z.array(z.string().min(1)).default([]),
    /**
     * Options of each driver, by driver name (`redis`, `kafka`, `s3`, `adls`, `postgres-online`,
     * `duckdb`, or a plugin's): validated by the driver's own schema when it is used.
     */
    drivers: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
    /** `postgres://…` for PostgreSQL (or a plugin's scheme); omitted = PGlite under `store`. */
    metadata: url('omit it for the embedded PGlite').optional(),
    /** Schema that holds the metadata tables in PostgreSQL. */
    metadataSchema: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,62}$/, 'must be a lowercase identifier')
      .default('featurestore'),
    /**
     * What opening does with the database schemas (metadata, PostgreSQL online store): `apply`
     * (default) migrates them; `require` only checks they are current and refuses to open
     * otherwise, for deployments that run `featurestore migrate` as a step of their own.
     */
    migrations: z.enum(['apply', 'require']).default('apply'),
    /**
     * With `migrations: "require"`, how long opening waits for `featurestore migrate` to bring
     * an older schema up to date, in seconds (default 0: fail at once).
     */
    migrationWaitSeconds: z.coerce.number().int().min(0).max(86_400).default(0),
    /**
     * `redis://…`, `rediss://…` (TLS), `redis-cluster://…`, `rediss-cluster://…` or
     * `postgres://…`; default: the metadata database.
     */
    online: url('omit it to keep online values in the metadata database').optional(),
    /** `kafka://broker1,broker2` or `kafkas://…` (TLS); default: a durable local log in the store folder. */
    queue: url('omit it for the local log in the store folder').optional(),
    /**
     * Prefixes this store's topics and consumer groups (`<namespace>.featurestore.online.…`):
     * give every store that shares a Kafka cluster its own.
     */
    queueNamespace: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,100}$/, 'must be letters, digits, dots, underscores or hyphens')
      .optional(),
    /**
     * How long online reads and pushes reuse a feature set lookup and its authorization, in
     * ms (default 1000; 0: look up every call). Changes made by other processes (a revoked
     * role, a new major version) reach a serving process within this time.
     */
    onlineMetadataCacheMs: z.coerce.number().int().min(0).optional(),
    /**
     * How long an online read's metadata lookup may take, in ms, before the last known answer
     * is served instead (default 500): a hung metadata database does not stall reads.
     */
    onlineMetadataTimeoutMs: z.coerce.number().int().min(1).optional(),
    /**
     * How old a last known lookup may be, in ms, and still serve online reads while the
     * metadata database is unreachable (default 300000, 5 minutes); past it reads fail
     * UNAVAILABLE.
     */
    onlineMetadataMaxStalenessMs: z.coerce.number().int().min(0).optional(),
    /**
     * How long the output of a `retrieve` or `historical` job stays in storage after the job
     * finished (an ISO 8601 duration, default P7D); `featurestore jobs clean`, `featurestore gc`
     * and the embedded store's open remove older ones. Outputs the CLI copied to `--out` are
     * removed at once.
     */
    outputRetention: z
      .string()
      .superRefine((value, context) => {
        try {
          parseDuration('outputRetention', value);
        } catch (error) {
          context.addIssue({ code: 'custom', message: (error as Error).message });
        }
      })
      .default(DEFAULT_OUTPUT_RETENTION),
    /** `file://…` (default `file://<store>/data`), `s3://bucket/prefix` or `abfss://fs@account.dfs.core.windows.net/prefix`. */
    storage: url('omit it for files under the store folder').optional(),
    /** The compute engine: `duckdb://` (in process, the default). */
    compute: url('omit it for DuckDB in process').default('duckdb://'),
    /**
     * Where callers other than the local owner (token and OIDC users) may read ingestion
     * sources and entity files: absolute folders and `file://`, `s3://` or `abfss://` prefixes.
     * None by default: such callers then read no file by path.
     */
    sources: z
      .object({
        roots: z.preprocess(
          // FEATURESTORE_SOURCE_ROOTS gives them comma-separated.
          (value) =>
            typeof value === 'string'
              ? value
                  .split(',')
                  .map((root) => root.trim())
                  .filter((root) => root !== '')
              : value,
          z
            .array(
              z
                .string()
                .refine(
                  (root) => /^(file|s3|abfss):\/\//.test(root) || isAbsolute(root),
                  'must be an absolute folder or a file://, s3:// or abfss:// URL',
                )
                .refine(
                  (root) => !root.split(/[\\/]/).includes('..'),
                  'must not contain ".." segments',
                )
                .refine(
                  (root) =>
                    !/^(s3|abfss):\/\//.test(root) ||
                    /^[a-z0-9]+:\/\/[^/?#]+(\/[^/?#]+)*\/?$/.test(root),
                  'must look like s3://bucket/prefix/ (no empty segments, ? or #)',
                ),
            )
            .default([]),
        ),
      })
      .strict()
      .default({ roots: [] }),
    /** The options of the `s3` driver, as `drivers.s3` (kept for existing configs). */
    s3: z.record(z.string(), z.unknown()).optional(),
    /** The options of the `adls` driver (`abfss://`), as `drivers.adls` (kept for existing configs). */
    azure: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export type FeatureStoreConfig = z.output<typeof configSchema>;

/** A URL of some scheme; which schemes a part accepts is the driver registry's answer. */
function url(omit: string) {
  return z.string().regex(/^[a-z][a-z0-9+.-]*:\/\//i, `must be a URL (scheme://…), or ${omit}`);
}

/**
 * The option block of every driver: `drivers`, with the older top-level `s3` and `azure`
 * blocks as the `s3` and `adls` drivers' (what `drivers` says wins).
 */
export function driverOptions(config: FeatureStoreConfig): Record<string, Record<string, unknown>> {
  const drivers = { ...config.drivers };
  if (config.s3) drivers.s3 = { ...config.s3, ...drivers.s3 };
  if (config.azure) drivers.adls = { ...config.azure, ...drivers.adls };
  return drivers;
}
export type FeatureStoreConfigInput = z.input<typeof configSchema>;

/** Environment variables that set config fields, for containers and CI. */
const ENVIRONMENT: Record<string, string> = {
  FEATURESTORE_STORE: 'store',
  FEATURESTORE_METADATA_URL: 'metadata',
  FEATURESTORE_METADATA_SCHEMA: 'metadataSchema',
  FEATURESTORE_MIGRATIONS: 'migrations',
  FEATURESTORE_MIGRATION_WAIT_SECONDS: 'migrationWaitSeconds',
  FEATURESTORE_STORAGE_URL: 'storage',
  FEATURESTORE_COMPUTE_URL: 'compute',
  FEATURESTORE_ONLINE_URL: 'online',
  FEATURESTORE_QUEUE_URL: 'queue',
  FEATURESTORE_QUEUE_NAMESPACE: 'queueNamespace',
  FEATURESTORE_ONLINE_METADATA_CACHE_MS: 'onlineMetadataCacheMs',
  FEATURESTORE_ONLINE_METADATA_TIMEOUT_MS: 'onlineMetadataTimeoutMs',
  FEATURESTORE_ONLINE_METADATA_MAX_STALENESS_MS: 'onlineMetadataMaxStalenessMs',
  FEATURESTORE_OUTPUT_RETENTION: 'outputRetention',
  FEATURESTORE_SOURCE_ROOTS: 'sources.roots',
  FEATURESTORE_S3_ENDPOINT: 's3.endpoint',
  FEATURESTORE_S3_REGION: 's3.region',
  FEATURESTORE_AZURE_ACCOUNT_KEY: 'azure.accountKey',
  FEATURESTORE_AZURE_SAS_TOKEN: 'azure.sasToken',
  FEATURESTORE_AZURE_BLOB_ENDPOINT: 'azure.blobEndpoint',
};

/** Validates a config, naming each bad field and what it must be. */
export function parseConfig(input: unknown, source = 'config'): FeatureStoreConfig {
  const result = configSchema.safeParse(input ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const field = issue.path.join('.') || '(root)';
    return issue.code === 'unrecognized_keys'
      ? `unknown field(s) ${issue.keys.join(', ')}: use ${Object.keys(configSchema.shape).join(', ')}`
      : `${field}: ${issue.message}`;
  });
  throw new ValidationError(`invalid ${source}: ${problems.join('; ')}`, {
    details: { issues: result.error.issues },
  });
}

/**
 * Merges, lowest precedence first: a JSON config file, environment variables, explicit
 * overrides (CLI flags or code).
 */
export async function loadConfig(
  options: { file?: string; env?: NodeJS.ProcessEnv; overrides?: FeatureStoreConfigInput } = {},
): Promise<FeatureStoreConfig> {
  let fromFile: Record<string, unknown> = {};
  if (options.file !== undefined) {
    const path = resolve(options.file);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw new ValidationError(`config file ${path} cannot be read: ${(error as Error).message}`, {
        cause: error,
      });
    }
    try {
      fromFile = JSON.parse(text);
    } catch (error) {
      throw new ValidationError(
        `config file ${path} is not valid JSON: ${(error as Error).message}`,
      );
    }
  }
  const merged: Record<string, unknown> = structuredClone(fromFile);
  if (options.file !== undefined && Array.isArray(merged.plugins)) {
    // A plugin path in a config file is relative to that file, wherever the command runs.
    const base = dirname(resolve(options.file));
    merged.plugins = merged.plugins.map((plugin) =>
      typeof plugin === 'string' && /^\.{1,2}[\\/]/.test(plugin) ? resolve(base, plugin) : plugin,
    );
  }
  for (const [variable, field] of Object.entries(ENVIRONMENT)) {
    const value = (options.env ?? process.env)[variable];
    if (value !== undefined && value !== '') setPath(merged, field, value);
  }
  for (const [field, value] of Object.entries(options.overrides ?? {})) {
    if (value === undefined) continue;
    // Plugins named on the command line come on top of the config file's.
    merged[field] =
      field === 'plugins' && Array.isArray(merged.plugins) && Array.isArray(value)
        ? [...merged.plugins, ...value]
        : value;
  }
  return parseConfig(merged, options.file ?? 'config');
}

/** Sets `a.b` in a nested object, creating the parents. */
function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const [head, ...rest] = path.split('.');
  if (rest.length === 0) {
    target[head!] = value;
    return;
  }
  if (typeof target[head!] !== 'object' || target[head!] === null) target[head!] = {};
  setPath(target[head!] as Record<string, unknown>, rest.join('.'), value);
}
