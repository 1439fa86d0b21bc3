import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';

/** The parts' URLs from the environment, as containers and the Helm chart set them. */
describe('config from FEATURESTORE_*_URL variables', () => {
  it.each([
    ['FEATURESTORE_METADATA_URL', 'metadata', 'postgres://db:5432/fs'],
    ['FEATURESTORE_ONLINE_URL', 'online', 'redis://cache:6379'],
    ['FEATURESTORE_QUEUE_URL', 'queue', 'kafka://broker:9092'],
    ['FEATURESTORE_STORAGE_URL', 'storage', 's3://bucket/prefix'],
    ['FEATURESTORE_COMPUTE_URL', 'compute', 'spark://local[2]'],
  ])('%s sets %s', async (variable, field, value) => {
    const config = await loadConfig({ env: { [variable]: value } });
    expect((config as Record<string, unknown>)[field]).toBe(value);
  });

  it('the compute engine is DuckDB in process when nothing says otherwise', async () => {
    expect((await loadConfig({ env: {} })).compute).toBe('duckdb://');
  });
});
