import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { dropKafkaNames, dropMetadataSchema } from './fixtures/kafka-namespace.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The Python client's own tests (pytest, clients/python/tests) run here so that `npm test`, and
 * CI with it, runs them: scripts/python-client makes (or finds up to date) the venv under
 * .services, then pytest starts `featurestore serve` on the embedded default and on the test
 * services. Its namespace on PostgreSQL and Kafka is named here so it can be dropped after.
 */
describe('Python client (pytest)', () => {
  const namespace = `pyclient_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
  afterAll(async () => {
    await dropMetadataSchema(namespace);
    await dropKafkaNames(namespace);
  }, 60_000);

  it('passes its pytest suite against real servers', async () => {
    // A fresh venv takes about two minutes to install; later runs find its stamp and return at once.
    const { stdout: python } = await run(`${root}scripts/python-client`, [], {
      cwd: root,
      timeout: 600_000,
    });
    const result = await run(
      python.trim(),
      ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'clients/python/tests'],
      {
        cwd: root,
        timeout: 900_000,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, FEATURESTORE_PYTEST_NAMESPACE: namespace },
      },
    ).catch((error: { stdout?: string; stderr?: string; message: string }) => ({
      stdout: `${error.stdout ?? ''}\n${error.stderr ?? ''}\n${error.message}`,
      stderr: '',
      failed: true,
    }));
    expect('failed' in result, result.stdout).toBe(false);
    expect(result.stdout).toMatch(/\d+ passed/);
    expect(result.stdout).not.toMatch(/\d+ (failed|error)/);
  }, 1_500_000);
});
