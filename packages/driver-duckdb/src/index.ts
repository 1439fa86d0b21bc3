/**
 * `@featurestore/driver-duckdb`: the local compute engine. Ingestion, retrieval and
 * point-in-time joins on one machine with DuckDB.
 */
export { DuckDbComputeEngine, type DuckDbComputeEngineOptions } from './duckdb-compute-engine.js';
export { FeatureRowReader, type FeatureRowFormat } from './feature-row-reader.js';
export { duckDbDriver, duckDbDriverOptions } from './descriptor.js';
