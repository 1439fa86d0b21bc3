export { ONLINE_MIGRATIONS } from './online-migrations.js';
export { PostgresOnlineStore, type PostgresOnlineStoreOptions } from './postgres-online-store.js';
