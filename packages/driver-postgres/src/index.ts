export {
  postgresMetadataDriver,
  postgresOnlineDriver,
  postgresOnlineDriverOptions,
} from './descriptor.js';
export { convertPostgresError, type PostgresErrorContext } from './errors.js';
export { MIGRATIONS, type Migration } from './migrations.js';
export {
  ONLINE_MIGRATIONS,
  PostgresOnlineStore,
  type PostgresOnlineStoreOptions,
} from './online/index.js';
export type { PgPoolClientLike, PgPoolLike } from './pg-client.js';
export type { PGliteLike, PGliteTransactionLike } from './pglite-client.js';
export {
  DEFAULT_SCHEMA,
  type PostgresConnection,
  PostgresMetadataStore,
  type PostgresMetadataStoreOptions,
} from './postgres-metadata-store.js';
export { MIGRATIONS_PENDING, type MigrationPolicy } from './schema-version.js';
