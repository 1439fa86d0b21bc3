import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ValidationError } from '@featurestore/core';
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
    /** `postgres://…` for PostgreSQL; omitted = PGlite under `store`. */
    metadata: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL (omit it for the embedded PGlite)')
      .optional(),
    /** Schema that holds the metadata tables in PostgreSQL. */
    metadataSchema: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,62}$/, 'must be a lowercase identifier')
      .default('featurestore'),
    /** `file://…` (default `file://<store>/data`). */
    storage: z
      .string()
      .regex(/^file:\/\//, 'must be a file:// URL for now (S3 and ADLS drivers come next)')
      .optional(),
  })
  .strict();

export type FeatureStoreConfig = z.output<typeof configSchema>;
export type FeatureStoreConfigInput = z.input<typeof configSchema>;

/** Environment variables that set config fields, for containers and CI. */
const ENVIRONMENT: Record<string, keyof FeatureStoreConfigInput> = {
  FEATURESTORE_STORE: 'store',
  FEATURESTORE_METADATA_URL: 'metadata',
  FEATURESTORE_METADATA_SCHEMA: 'metadataSchema',
  FEATURESTORE_STORAGE_URL: 'storage',
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
  const fromEnv: Record<string, string> = {};
  for (const [variable, field] of Object.entries(ENVIRONMENT)) {
    const value = (options.env ?? process.env)[variable];
    if (value !== undefined && value !== '') fromEnv[field] = value;
  }
  const defined = Object.fromEntries(
    Object.entries(options.overrides ?? {}).filter(([, value]) => value !== undefined),
  );
  return parseConfig({ ...fromFile, ...fromEnv, ...defined }, options.file ?? 'config');
}
