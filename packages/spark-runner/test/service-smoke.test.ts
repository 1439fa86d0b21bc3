import { access, constants } from 'node:fs/promises';
import { serviceEnv } from '@featurestore/core/testing';
import { describe, expect, it } from 'vitest';

/** What the standalone master's status page (`/json/`) says about its cluster. */
interface MasterStatus {
  url: string;
  aliveworkers: number;
  cores: number;
  memory: number;
  workers: { state: string; cores: number; memory: number }[];
}

// Cheap, and on both CI legs: the cluster the Spark suites submit to is up and sized as
// scripts/services starts it, and its spark-submit and Python are installed.
describe('Spark test service', () => {
  it('has a master at the URL of .services/env with one alive worker of 2 cores and 1 GiB', async () => {
    const response = await fetch(`${serviceEnv('FEATURESTORE_TEST_SPARK_UI_URL')}/json/`);
    expect(response.ok).toBe(true);
    const status = (await response.json()) as MasterStatus;
    expect(status.url).toBe(serviceEnv('FEATURESTORE_TEST_SPARK_MASTER'));
    expect(status.aliveworkers).toBe(1);
    expect(status.workers.find((worker) => worker.state === 'ALIVE')).toMatchObject({
      cores: 2,
      memory: 1024,
    });
  });

  it('has spark-submit and the Python of the PySpark application', async () => {
    await access(serviceEnv('FEATURESTORE_TEST_SPARK_SUBMIT'), constants.X_OK);
    await access(serviceEnv('FEATURESTORE_TEST_SPARK_PYTHON'), constants.X_OK);
  });
});
