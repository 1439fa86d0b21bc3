/**
 * `@featurestore/driver-duckdb`: the local compute engine. Ingestion, retrieval and
 * point-in-time joins on one machine with DuckDB.
 */

export { duckDbDriver, duckDbDriverOptions } from './descriptor.js';
export { DuckDbComputeEngine, type DuckDbComputeEngineOptions } from './duckdb-compute-engine.js';
export { type FeatureRowFormat, FeatureRowReader } from './feature-row-reader.js';
