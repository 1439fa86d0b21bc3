import {
  defineDriver,
  type OptionsIssue,
  type OptionsSchema,
  ValidationError,
} from '@featurestore/core/driver';
import { SparkComputeEngine } from './spark-compute-engine.js';

/** The `drivers.spark` block of a configuration. */
export interface SparkDriverOptions {
  /** The Spark master; overrides the URL's (`local[*]` when neither names one). */
  master?: string;
  /** The `spark-submit` program (default: `$SPARK_HOME/bin/spark-submit`, else on PATH). */
  sparkSubmit?: string;
  /** The Python of the driver and the executors (`PYSPARK_PYTHON`). */
  python?: string;
  /** Spark properties (`spark.executor.memory: "1g"`…), each passed as `--conf`. */
  conf?: Record<string, string>;
  /** One long-lived application for consecutive jobs instead of one submission per job. */
  reuseApplication?: boolean;
  /** The address the application connects back to (default 127.0.0.1). */
  callbackHost?: string;
}

const STRING_KEYS = ['master', 'sparkSubmit', 'python', 'callbackHost'] as const;

function validate(value: unknown): { value: SparkDriverOptions } | { issues: OptionsIssue[] } {
  if (value === undefined) return { value: {} };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { issues: [{ message: 'must be an object of options' }] };
  }
  const issues: OptionsIssue[] = [];
  const options: SparkDriverOptions = {};
  for (const [key, entry] of Object.entries(value)) {
    if ((STRING_KEYS as readonly string[]).includes(key)) {
      if (typeof entry !== 'string' || entry === '') {
        issues.push({ message: 'must be a non-empty string', path: [key] });
      } else options[key as (typeof STRING_KEYS)[number]] = entry;
    } else if (key === 'reuseApplication') {
      if (typeof entry !== 'boolean')
        issues.push({ message: 'must be true or false', path: [key] });
      else options.reuseApplication = entry;
    } else if (key === 'conf') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
        issues.push({ message: 'must be an object of Spark properties', path: [key] });
        continue;
      }
      const conf: Record<string, string> = {};
      for (const [property, setting] of Object.entries(entry)) {
        if (
          typeof setting === 'string' ||
          typeof setting === 'number' ||
          typeof setting === 'boolean'
        ) {
          conf[property] = String(setting);
        } else
          issues.push({ message: 'must be a string, number or boolean', path: [key, property] });
      }
      options.conf = conf;
    } else {
      issues.push({
        message: `unknown option (known: ${[...STRING_KEYS, 'conf', 'reuseApplication'].join(', ')})`,
        path: [key],
      });
    }
  }
  return issues.length > 0 ? { issues } : { value: options };
}

/** The options schema of `drivers.spark`, in the Standard Schema form the registry reads. */
export const sparkDriverOptions: OptionsSchema<SparkDriverOptions> = {
  '~standard': { version: 1, vendor: 'featurestore', validate },
};

/**
 * The Spark master a `spark://` compute URL names. `spark://host:7077` is a standalone master
 * itself; `spark://local[2]` (or `local`, `local[*]`) and `spark://yarn` name those masters;
 * `spark://k8s://https://host:443` names any other master after `spark://`; `spark://` alone
 * leaves it to the options (default `local[*]`). (The configuration takes `scheme://` URLs
 * only; `spark:local[2]` is read the same way for code that opens the driver itself.)
 */
export function sparkMasterOf(url: string): string | undefined {
  const rest = url.replace(/^spark:(\/\/)?/i, '');
  if (rest === '') return undefined;
  if (/^(local(\[[^\]]*\])?|yarn)$/i.test(rest) || /^[a-z][a-z0-9+.-]*:\/\//i.test(rest))
    return rest;
  return `spark://${rest}`;
}

/** The distributed compute engine: `spark://host:7077`, `spark://local[2]`, `spark://yarn`… */
export const sparkDriver = defineDriver({
  name: 'spark',
  port: 'compute',
  schemes: ['spark'],
  options: sparkDriverOptions,
  open: (url, options) => {
    const master = options.master ?? sparkMasterOf(url);
    if (master !== undefined && /\s/.test(master)) {
      throw new ValidationError(`compute: ${JSON.stringify(master)} is not a Spark master URL`, {
        details: { field: 'compute', value: master },
      });
    }
    return new SparkComputeEngine({ ...options, ...(master === undefined ? {} : { master }) });
  },
});
