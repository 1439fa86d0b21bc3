import {
  AlreadyExistsError,
  CancelledError,
  ConflictError,
  FeatureStoreError,
  NotFoundError,
  SOCKET_ERROR_CODES,
  UnavailableError,
  ValidationError,
} from '@featurestore/core/driver';

/** What the converter knows of the failed call, to say what failed. */
export interface PostgresErrorContext {
  /** The database, e.g. `PostgreSQL at 127.0.0.1:5432` or `PGlite in ./.featurestore/db`. */
  target?: string;
  /** The statement that failed; only its start is kept, in `details.sql`. */
  sql?: string;
}

/** The fields `pg` and PGlite both put on a server error (a `DatabaseError`). */
interface DatabaseErrorLike {
  message: string;
  code?: string;
  detail?: string;
  hint?: string;
  constraint?: string;
  table?: string;
  column?: string;
}

/** Messages `pg` and PGlite throw without a code when a connection is unusable. */
const CONNECTION_MESSAGES = [
  /connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /not queryable/i,
  /pool after calling end/i,
  /pglite is closed/i,
];

/** Singular names of the tables, as messages name them. */
const ENTITIES: Record<string, string> = {
  projects: 'project',
  feature_sets: 'feature set',
  feature_set_versions: 'feature set version',
  users: 'user',
  access_tokens: 'access token',
  permissions: 'permission',
  ingestions: 'ingestion',
  jobs: 'job',
};

/** Foreign keys → the entity that must exist first. */
const REFERENCES: Record<string, string> = {
  feature_sets_project_fk: 'project',
  feature_set_versions_feature_set_fk: 'feature set',
  access_tokens_user_fk: 'user',
  permissions_project_fk: 'project',
  permissions_user_fk: 'user',
  ingestions_feature_set_fk: 'feature set',
  jobs_project_fk: 'project',
};

/**
 * Converts an error thrown by `pg` or PGlite into the `FeatureStoreError` a caller can act on:
 * unique violations (23505) become `AlreadyExistsError` naming the entity and value, missing
 * references (23503) `NotFoundError`, serialization failures and deadlocks (40001, 40P01)
 * `ConflictError`, unreachable servers (class 08, 57P0x, socket errors) `UnavailableError`
 * naming the host, bad values (class 22, 23502, 23514) `ValidationError`, and anything else
 * (class 42: a bug or a schema out of step) an `INTERNAL` error carrying the server's
 * message. A `FeatureStoreError` passes through unchanged.
 *
 * @example
 * try {
 *   await pool.query('INSERT INTO featurestore.projects …', values);
 * } catch (error) {
 *   throw convertPostgresError(error, { target: 'PostgreSQL at db:5432' });
 * }
 */
export function convertPostgresError(
  error: unknown,
  context: PostgresErrorContext = {},
): FeatureStoreError {
  if (error instanceof FeatureStoreError) return error;
  const target = context.target ?? 'PostgreSQL';
  const native = asDatabaseError(error);
  const code = native.code ?? '';
  const details: Record<string, unknown> = {};
  if (code) details.sqlstate = code;
  if (native.constraint) details.constraint = native.constraint;
  if (context.sql) details.sql = context.sql.replace(/\s+/g, ' ').trim().slice(0, 200);
  const options = { cause: error, details };

  if (code === '23505') return uniqueViolation(native, options);
  if (code === '23503') return foreignKeyViolation(native, options);
  if (code === '40001' || code === '40P01') {
    const what = code === '40001' ? 'a serialization failure' : 'a deadlock';
    // Unlike a stale revision, nothing was wrong with the request: the same transaction,
    // run again, may well succeed.
    return new ConflictError(
      `${target} aborted the transaction after ${what} with a concurrent one: retry the whole transaction`,
      { ...options, retryable: true },
    );
  }
  if (code === '55P03') {
    return new ConflictError(
      `${target} could not take a lock another transaction holds: retry later`,
      { ...options, retryable: true },
    );
  }
  if (code === '57014') {
    return new CancelledError(`${target} cancelled the statement: ${native.message}`, options);
  }
  if (isUnavailable(code, native)) {
    const reason = code ? `${native.message} (${code})` : native.message;
    return new UnavailableError(
      `cannot reach ${target}: ${reason}; check that the server is running and the connection settings are right, then retry`,
      options,
    );
  }
  if (code.startsWith('28') || code === '3D000') {
    return new FeatureStoreError(
      'INTERNAL',
      `${target} refused the connection: ${native.message}; check the user, password and database in the connection settings`,
      options,
    );
  }
  if (code.startsWith('22') || code === '23502' || code === '23514') {
    return new ValidationError(
      `${target} rejected a value: ${native.message}${native.detail ? ` (${native.detail})` : ''}; correct the input and retry`,
      options,
    );
  }
  if (code === '25P02') {
    return new FeatureStoreError(
      'INTERNAL',
      `an earlier statement in this transaction failed, so ${target} ignores the rest until it rolls back: let errors inside transaction() propagate instead of catching them`,
      options,
    );
  }
  const hint =
    code === '42P01' || code === '42703'
      ? ': the metadata schema is missing or older than this driver; open the store with PostgresMetadataStore.open() so it migrates'
      : ': this is a bug in the driver or a schema changed by hand; report it with the SQL in details';
  return new FeatureStoreError(
    'INTERNAL',
    `${target} failed${code ? ` with ${code}` : ''}: ${native.message}${hint}`,
    options,
  );
}

function asDatabaseError(error: unknown): DatabaseErrorLike {
  if (error instanceof AggregateError && error.errors.length > 0) {
    // Node reports a refused connection to a host with several addresses this way.
    const first = asDatabaseError(error.errors[0]);
    return { ...first, code: (error as { code?: string }).code ?? first.code };
  }
  if (typeof error === 'object' && error !== null) {
    const record = error as Record<string, unknown>;
    const text = (key: string) => (typeof record[key] === 'string' ? record[key] : undefined);
    return {
      message: text('message') ?? String(error),
      ...(text('code') ? { code: text('code') } : {}),
      ...(text('detail') ? { detail: text('detail') } : {}),
      ...(text('hint') ? { hint: text('hint') } : {}),
      ...(text('constraint') ? { constraint: text('constraint') } : {}),
      ...(text('table') ? { table: text('table') } : {}),
      ...(text('column') ? { column: text('column') } : {}),
    };
  }
  return { message: String(error) };
}

function isUnavailable(code: string, native: DatabaseErrorLike): boolean {
  if (SOCKET_ERROR_CODES.has(code)) return true;
  // 08: connection exception; 53: out of resources (too many connections…);
  // 57P01-57P03: admin/crash shutdown, cannot connect now.
  if (code.startsWith('08') || code.startsWith('53') || /^57P0[1-3]$/.test(code)) return true;
  return !code && CONNECTION_MESSAGES.some((pattern) => pattern.test(native.message));
}

/** Parses `Key (a, b)=(x, y) already exists.` into `{ a: 'x', b: 'y' }`. */
function keyValues(detail: string | undefined): Record<string, string> {
  const match = /^Key \((.+)\)=\((.*)\)/.exec(detail ?? '');
  if (!match) return {};
  const columns = match[1]!.split(', ');
  const values = columns.length === 1 ? [match[2]!] : match[2]!.split(', ');
  if (values.length !== columns.length) return {};
  return Object.fromEntries(columns.map((column, i) => [column, values[i]!]));
}

function uniqueViolation(
  native: DatabaseErrorLike,
  options: { cause: unknown; details: Record<string, unknown> },
): FeatureStoreError {
  const key = keyValues(native.detail);
  const entity = ENTITIES[native.table ?? ''] ?? native.table ?? 'row';
  let message: string;
  switch (native.constraint) {
    case 'projects_name_key':
      message = `project "${key.name}" already exists: choose another name, or read and update the existing project`;
      break;
    case 'feature_sets_project_name_key':
      message = `feature set "${key.name}" already exists in project ${key.project_id}: choose another name, or add a version to the existing feature set`;
      break;
    case 'feature_set_versions_pkey':
      message = `version ${key.major}.${key.minor} of feature set ${key.feature_set_id} already exists: re-read the feature set and create the next version`;
      break;
    case 'users_name_key':
      message = `user "${key.name}" already exists: choose another name`;
      break;
    case 'users_oidc_subject_key':
      message = `a user with OIDC subject "${key.oidc_subject}" already exists: read it with getUser({ oidcSubject })`;
      break;
    case 'access_tokens_secret_hash_key':
      // The hash identifies a credential: keep it out of messages and details.
      message = 'an access token with the same secret already exists: generate a new secret';
      return new AlreadyExistsError(message, options);
    default: {
      const shown = Object.entries(key)
        .map(([column, value]) => `${column} "${value}"`)
        .join(' and ');
      message = `${entity}${shown ? ` with ${shown}` : ''} already exists: use a new ${shown ? 'value' : 'key'}`;
    }
  }
  return new AlreadyExistsError(message, {
    ...options,
    details: { ...options.details, entity, ...key },
  });
}

function foreignKeyViolation(
  native: DatabaseErrorLike,
  options: { cause: unknown; details: Record<string, unknown> },
): FeatureStoreError {
  const key = keyValues(native.detail);
  if (/still referenced/.test(native.detail ?? '')) {
    const entity = ENTITIES[native.table ?? ''] ?? native.table ?? 'row';
    return new ValidationError(
      `${entity} ${Object.values(key).join(', ')} is still referenced: delete what refers to it first`,
      options,
    );
  }
  const referenced =
    REFERENCES[native.constraint ?? ''] ??
    ENTITIES[/table "([a-z_]+)"/.exec(native.detail ?? '')?.[1] ?? ''] ??
    'referenced row';
  const value = Object.values(key)[0];
  return new NotFoundError(
    `${referenced}${value ? ` ${value}` : ''} does not exist: create it first, or check the id`,
    { ...options, details: { ...options.details, entity: referenced, id: value } },
  );
}
