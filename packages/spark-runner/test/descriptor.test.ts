import { describe, expect, it } from 'vitest';
import { SparkComputeEngine, sparkDriver, sparkMasterOf } from '../src/index.js';

const context = { storeDir: '/tmp/store', clientId: 'test', metadataSchema: 'featurestore' };

describe('the spark driver descriptor', () => {
  it.each([
    ['spark://10.0.0.5:7077', 'spark://10.0.0.5:7077'],
    ['spark://local[2]', 'local[2]'],
    ['spark://local[*]', 'local[*]'],
    ['spark://local', 'local'],
    ['spark://yarn', 'yarn'],
    ['spark://k8s://https://api.example:443', 'k8s://https://api.example:443'],
    ['spark://', undefined],
    ['spark:local[2]', 'local[2]'],
  ])('reads the master of %s', (url, master) => {
    expect(sparkMasterOf(url)).toBe(master);
  });

  it('opens an engine on the URL’s master, unless drivers.spark.master names another', async () => {
    const fromUrl = await sparkDriver.open('spark://local[2]', {}, context);
    expect(fromUrl).toBeInstanceOf(SparkComputeEngine);
    expect((fromUrl as SparkComputeEngine).master).toBe('local[2]');
    const fromOptions = await sparkDriver.open('spark://', { master: 'yarn' }, context);
    expect((fromOptions as SparkComputeEngine).master).toBe('yarn');
    const byDefault = await sparkDriver.open('spark://', {}, context);
    expect((byDefault as SparkComputeEngine).master).toBe('local[*]');
  });

  it('validates drivers.spark, naming each bad option', async () => {
    const validate = (value: unknown) => sparkDriver.options['~standard'].validate(value);
    expect(
      await validate({ conf: { 'spark.executor.memory': '1g', 'spark.cores.max': 2 } }),
    ).toEqual({ value: { conf: { 'spark.executor.memory': '1g', 'spark.cores.max': '2' } } });
    const result = await validate({ master: '', reuseApplication: 'yes', colour: 'red' });
    expect(result.issues?.map((issue) => [issue.path?.join('.'), issue.message])).toEqual([
      ['master', 'must be a non-empty string'],
      ['reuseApplication', 'must be true or false'],
      ['colour', expect.stringContaining('unknown option')],
    ]);
  });
});
