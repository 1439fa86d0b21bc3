import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFirstAdminToken } from '../src/first-admin-token.js';
import { FeatureStoreServer } from '../src/grpc/featurestore-server.js';
import { openFeatureStore, runCli } from '../src/index.js';
import { createLogger } from '../src/worker-log.js';
import { cli, cliJson, tempStore } from './helpers.js';

const DAY = 86_400_000;
const customers = {
  primaryKey: ['customer_id'],
  eventTime: 'ts',
  timeToLive: 'P7D',
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'age', type: 'int32' },
  ],
};

/** Issue 17: an empty cell of `online get` says whether it is past the time to live. */
describe('online values past their time to live', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  beforeAll(async () => {
    store = await tempStore();
    const fs = await openFeatureStore({ store: store.dir });
    await fs.engine.projects.create(fs.principal, { name: 'ttl' });
    await fs.engine.featureSets.register(fs.principal, 'ttl', 'customers', customers);
    await fs.close();
    const file = join(store.dir, 'rows.jsonl');
    const at = (daysAgo: number) => new Date(Date.now() - daysAgo * DAY).toISOString();
    await writeFile(
      file,
      [
        { customer_id: 'old', ts: at(30), age: 40 },
        { customer_id: 'fresh', ts: at(1), age: 25 },
      ]
        .map((row) => JSON.stringify(row))
        .join('\n'),
    );
    await cliJson(store.dir, 'online', 'push', 'ttl', 'customers', file);
  }, 120_000);
  afterAll(async () => store?.remove());

  it('the engine names the expired values apart from the missing ones', async () => {
    const fs = await openFeatureStore({ store: store.dir });
    try {
      const result = await fs.engine.online!.readOnlineFeatures(fs.principal, {
        features: ['ttl/customers:age'],
        entities: [{ customer_id: 'fresh' }, { customer_id: 'old' }, { customer_id: 'never' }],
      });
      expect(result.rows.map((row) => row.customers__age)).toEqual([25, null, null]);
      expect(result.expired).toEqual([{ row: 1, columns: ['customers__age'] }]);
    } finally {
      await fs.close();
    }
  });

  const keys = [
    '--key',
    'customer_id=old',
    '--key',
    'customer_id=fresh',
    '--key',
    'customer_id=never',
  ];

  it('online get says so under the table, and in --json per row', async () => {
    const human = await cli(store.dir, 'online', 'get', 'ttl', 'customers', ...keys);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(
      'empty because past the time to live (P7D): row 1 (customer_id=old): customers__age',
    );
    expect(human.stdout).not.toMatch(/row 3/);
    const json = await cliJson<{ items: unknown[]; expired: unknown[] }>(
      store.dir,
      'online',
      'get',
      'ttl',
      'customers',
      ...keys,
    );
    expect(json.items).toHaveLength(3);
    expect(json.expired).toEqual([{ row: 1, columns: ['customers__age'] }]);
  });

  it('through the server too: the wire carries which values expired (remote online get)', async () => {
    const fs = await openFeatureStore({ store: store.dir });
    const admin = (await createFirstAdminToken(fs.engine, undefined))!.secret;
    const tokenFile = join(store.dir, 'admin.token');
    await writeFile(tokenFile, `${admin}\n`);
    const server = await FeatureStoreServer.start(fs, {
      listen: '127.0.0.1:0',
      logger: createLogger('silent'),
    });
    try {
      let stdout = '';
      const remote = ['--endpoint', server.address, '--token-file', tokenFile];
      const io = {
        stdout: (text: string) => {
          stdout += text;
        },
        stderr: () => {},
      };
      expect(await runCli([...remote, 'online', 'get', 'ttl', 'customers', ...keys], io)).toBe(0);
      expect(stdout).toContain(
        'empty because past the time to live (P7D): row 1 (customer_id=old): customers__age',
      );
      stdout = '';
      const args = [...remote, '--json', 'online', 'get', 'ttl', 'customers', ...keys];
      expect(await runCli(args, io)).toBe(0);
      expect(JSON.parse(stdout).expired).toEqual([{ row: 1, columns: ['customers__age'] }]);
    } finally {
      await server.shutdown();
      await fs.close();
    }
  });
});
