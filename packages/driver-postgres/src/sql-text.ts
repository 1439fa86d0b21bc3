import { ValidationError } from '@featurestore/core/driver';

/** Schema names: an unquoted-safe PostgreSQL identifier, not in the reserved `pg_` space. */
const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/** Returns `schema` when it is a valid schema name; `ValidationError` saying why not otherwise. */
export function validateSchemaName(schema: unknown): string {
  if (typeof schema === 'string' && SCHEMA_PATTERN.test(schema) && !schema.startsWith('pg_')) {
    return schema;
  }
  throw new ValidationError(
    `schema name ${JSON.stringify(schema)} is invalid: use lowercase letters, digits and underscores, start with a letter or underscore, at most 63 characters, not starting with "pg_"`,
    { details: { field: 'schema', value: schema } },
  );
}

/** The qualified table names of a store's schema. */
export interface Tables {
  projects: string;
  featureSets: string;
  versions: string;
  users: string;
  tokens: string;
  permissions: string;
  ingestions: string;
  /** The sequence ingestions take their `sequence` from (a name for `nextval`). */
  ingestionSequence: string;
  jobs: string;
  consumerOffsets: string;
  /** Committed ingestions whose apply to the online store is not finished yet. */
  pendingOnlineApplies: string;
}

export function tablesOf(schema: string): Tables {
  const table = (name: string) => `"${validateSchemaName(schema)}".${name}`;
  return {
    projects: table('projects'),
    featureSets: table('feature_sets'),
    versions: table('feature_set_versions'),
    users: table('users'),
    tokens: table('access_tokens'),
    permissions: table('permissions'),
    ingestions: table('ingestions'),
    ingestionSequence: table('ingestion_sequence'),
    jobs: table('jobs'),
    consumerOffsets: table('consumer_offsets'),
    pendingOnlineApplies: table('pending_online_applies'),
  };
}

/** Collects parameter values while a statement is built; `add` returns the placeholder. */
export class Params {
  readonly values: unknown[] = [];

  add(value: unknown): string {
    this.values.push(value === undefined ? null : value);
    return `$${this.values.length}`;
  }

  /** A jsonb parameter, sent as text: `pg` and PGlite serialize objects differently. */
  json(value: unknown): string {
    return `${this.add(value === undefined ? null : JSON.stringify(value))}::text::jsonb`;
  }
}

/** Escapes `%`, `_` and `\` so user text matches literally in LIKE/ILIKE (escape char `\`). */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, '\\$&');
}
