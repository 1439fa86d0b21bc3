import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UnavailableError } from '@featurestore/core';
import { serviceEnv } from '@featurestore/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { describeConfig } from '../src/open-feature-store.js';
import { createLogger, workerReports } from '../src/worker-log.js';
import { dropMetadataSchema } from './fixtures/kafka-namespace.js';
import { cli, tempStore } from './helpers.js';

const SECRET = 'hunter2-s3cret';

describe('secrets are never shown', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  const schema = `secrets_${Date.now().toString(36)}`;
  beforeAll(async () => {
    store = await tempStore();
  });
  afterAll(async () => {
    await store.remove();
    await dropMetadataSchema(schema);
  });

  it.each([
    ['metadata', { metadata: `postgres://fs:${SECRET}@db:5432/fs?sslpassword=${SECRET}` }],
    ['metadata', { metadata: `postgres://db/fs?user=fs&password=${SECRET}` }],
    ['online', { online: `redis://:${SECRET}@cache:6379/0` }],
    ['online', { online: `redis-cluster://default:${SECRET}@n1:7000,n2:7001` }],
    ['queue', { queue: `kafka://svc:${SECRET}@b1:9093,b2:9093?mechanism=scram-sha-512` }],
    ['storage', { storage: `abfss://fs@acct.dfs.core.windows.net/p?sig=${SECRET}` }],
  ])('describeConfig blanks the secret of %s', (field, input) => {
    const shown = describeConfig(parseConfig({ store: store.dir, ...input }));
    expect(JSON.stringify(shown)).not.toContain(SECRET);
    expect(shown[field]).toContain('***');
  });

  it('quickstart prints the configuration without the PostgreSQL password', async () => {
    const url = new URL(serviceEnv('FEATURESTORE_TEST_POSTGRES_URL'));
    url.password = SECRET;
    url.searchParams.set('password', SECRET);
    const config = join(store.dir, 'config.json');
    await writeFile(config, JSON.stringify({ metadata: url.toString(), metadataSchema: schema }));
    const result = await cli(store.dir, '--config', config, 'quickstart');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/metadata\s+postgresql \(postgres:\/\/featurestore:\*\*\*@/);
    expect(result.stdout).toContain('password=***');
    expect(result.stdout).not.toContain(SECRET);
  }, 120_000);

  it.each([
    ['an online URL with a query', ['--online', `redis://:${SECRET}@h:6379/0?password=${SECRET}`]],
    ['a cluster URL with a path', ['--online', `redis-cluster://u:${SECRET}@h:1,h:2/3`]],
    ['a Kafka URL without a port', ['--queue', `kafka://u:${SECRET}@b1:x?password=${SECRET}`]],
  ])('an error about %s does not show its secrets, even with --verbose', async (_case, argv) => {
    for (const verbose of [[], ['--verbose']]) {
      const result = await cli(store.dir, ...verbose, ...argv, 'project', 'list');
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('***');
      expect(result.stderr).not.toContain(SECRET);
    }
  });

  it('the worker log blanks secrets in errors it reports', () => {
    const lines: string[] = [];
    const logger = createLogger('info', { write: (line: string) => lines.push(line) });
    workerReports(logger).onError(
      new UnavailableError(`"redis://:${SECRET}@cache:6379" is down (password=${SECRET})`),
    );
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!);
    expect(entry.err.message).toBe('"redis://:***@cache:6379" is down (password=***)');
    expect(lines[0]).not.toContain(SECRET);
  });
});
