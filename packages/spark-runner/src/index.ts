/**
 * `@featurestore/spark-runner`: the distributed compute engine. The same job specs as the
 * DuckDB engine, with the same results, run by a PySpark application through `spark-submit`.
 */

export {
  type SparkDriverOptions,
  sparkDriver,
  sparkDriverOptions,
  sparkMasterOf,
} from './descriptor.js';
export { type JobErrorDocument, jobError } from './job-errors.js';
export {
  SparkApplication,
  type SparkApplicationOptions,
  type SparkRequest,
} from './spark-application.js';
export { SparkComputeEngine, type SparkComputeEngineOptions } from './spark-compute-engine.js';
export { PYTHON_FOLDER, sparkSubmitArguments } from './spark-submit-command.js';
