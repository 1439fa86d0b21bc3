import { serviceEnv } from '@featurestore/core/testing';
import type { describe } from 'vitest';
import type { SparkComputeEngineOptions } from '../src/index.js';

/**
 * The Spark suites run on the Node 20 leg of CI only: they cost minutes on the 2-core machine
 * (each job is a Spark job; the engine's Node side is the same on both versions), and CI must
 * stay within its budget. Skipped visibly, as vitest lists skipped cases; README says so.
 */
export function sparkLeg(suite: typeof describe): typeof describe {
  return process.version.startsWith('v24') ? suite.skip : suite;
}

/**
 * The engine options of the tests: the standalone cluster started by `scripts/services up`
 * (a master and one worker of 2 cores), its spark-submit and Python, and small memory.
 *
 * Only the conformance suite submits to the cluster: vitest runs test files at once, and the
 * worker's 1 GiB holds two 512 MiB executors, so a third application would wait for the
 * suite's long-lived one to end. The other Spark tests use `local[2]` (`master` in `extra`).
 */
export function sparkTestOptions(
  extra: Partial<SparkComputeEngineOptions> = {},
): SparkComputeEngineOptions {
  return {
    master: serviceEnv('FEATURESTORE_TEST_SPARK_MASTER'),
    sparkSubmit: serviceEnv('FEATURESTORE_TEST_SPARK_SUBMIT'),
    python: serviceEnv('FEATURESTORE_TEST_SPARK_PYTHON'),
    ...extra,
    conf: {
      'spark.executor.memory': '512m',
      'spark.driver.memory': '512m',
      'spark.cores.max': '2',
      'spark.sql.shuffle.partitions': '2',
      // The JIT's first tier only: a test job is small, and the start is most of its time.
      'spark.driver.extraJavaOptions': '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC',
      'spark.executor.extraJavaOptions': '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC',
      ...extra.conf,
    },
  };
}
