import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { cli, cliJson, spawnSource, tempStore, until } from './helpers.js';

const events = {
  primaryKey: ['user_id'],
  eventTime: 'ts',
  features: [
    { name: 'user_id', type: 'int64' },
    { name: 'ts', type: 'timestamp' },
    { name: 'clicks', type: 'int32' },
    { name: 'country', type: 'string' },
  ],
};

async function allFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

describe('offline engine through the CLI', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  // `--out` files may not land in the store folder: they go to a folder of their own.
  let outputs: Awaited<ReturnType<typeof tempStore>>;
  const file = (name: string) => join(store.dir, name);
  const output = (name: string) => join(outputs.dir, name);
  beforeAll(async () => {
    store = await tempStore();
    outputs = await tempStore();
    await writeFile(file('events.schema.json'), JSON.stringify(events));
    await cliJson(store.dir, 'project', 'create', 'shop');
    await cliJson(
      store.dir,
      'featureset',
      'register',
      'shop',
      'events',
      '--schema',
      file('events.schema.json'),
    );
  });
  afterAll(async () => {
    await store.remove();
    await outputs.remove();
  });

  it('ingests, lists, reverts, retrieves as of, and builds a training set', async () => {
    await writeFile(
      file('day1.csv'),
      'user_id,ts,clicks,country\n1,2026-01-01T10:00:00Z,3,DE\n2,2026-01-01T11:00:00,5,FR\n',
    );
    await writeFile(file('day2.csv'), 'user_id,ts,clicks,country\n1,2026-01-02T10:00:00Z,7,DE\n');
    const first = await cliJson<{ ingestionId: string; rowCount: number }>(
      store.dir,
      'ingest',
      'shop',
      'events',
      file('day1.csv'),
      '--idempotency-key',
      'day1',
    );
    expect(first.rowCount).toBe(2);
    const retry = await cliJson<{ ingestionId: string; reused: boolean }>(
      store.dir,
      'ingest',
      'shop',
      'events',
      file('day1.csv'),
      '--idempotency-key',
      'day1',
    );
    expect(retry).toMatchObject({ ingestionId: first.ingestionId, reused: true });
    const second = await cliJson<{ ingestionId: string }>(
      store.dir,
      'ingest',
      'shop',
      'events',
      file('day2.csv'),
    );

    const listed = await cliJson<{ items: { id: string; state: string }[] }>(
      store.dir,
      'ingestions',
      'shop',
      'events',
    );
    expect(listed.items.map((i) => i.id)).toEqual([first.ingestionId, second.ingestionId]);

    await cliJson(
      store.dir,
      'retrieve',
      'shop',
      'events',
      '--latest',
      '--out',
      output('latest.csv'),
    );
    expect(await readFile(output('latest.csv'), 'utf8')).toMatch(/^user_id,ts,clicks,country\n/);
    expect(
      (await readFile(output('latest.csv'), 'utf8')).trim().split('\n').slice(1).sort(),
    ).toEqual(['1,2026-01-02T10:00:00.000Z,7,DE', '2,2026-01-01T11:00:00.000Z,5,FR']);

    await cliJson(store.dir, 'revert', 'shop', 'events', second.ingestionId);
    await cliJson(
      store.dir,
      'retrieve',
      'shop',
      'events',
      '--latest',
      '--out',
      output('after-revert.csv'),
    );
    expect(await readFile(output('after-revert.csv'), 'utf8')).toContain(
      '1,2026-01-01T10:00:00.000Z,3,DE',
    );
    await cliJson(
      store.dir,
      'retrieve',
      'shop',
      'events',
      '--as-of',
      second.ingestionId,
      '--out',
      output('as-of.csv'),
    );
    expect((await readFile(output('as-of.csv'), 'utf8')).trim().split('\n')).toHaveLength(4);

    await writeFile(
      file('entities.csv'),
      'user_id,at,label\n1,2026-01-01T12:00:00Z,0\n1,2026-01-03T00:00:00Z,1\n3,2026-01-03T00:00:00Z,0\n1,2026-01-01T12:00:00Z,0\n',
    );
    const training = await cliJson<{ rowCount: number }>(
      store.dir,
      'historical',
      '--entities',
      file('entities.csv'),
      '--entity-time',
      'at',
      '--features',
      'shop/events:clicks,shop/events:country',
      '--out',
      output('training.csv'),
    );
    expect(training.rowCount).toBe(4);
    const lines = (await readFile(output('training.csv'), 'utf8')).trim().split('\n');
    expect(lines[0]).toBe('user_id,at,label,events__clicks,events__country');
    // The second ingestion is reverted: the 2026-01-03 row sees the day-1 value.
    expect(lines.slice(1).map((line) => line.split(',').slice(3).join(','))).toEqual([
      '3,DE',
      '3,DE',
      ',',
      '3,DE',
    ]);

    const jobs = await cliJson<{ items: { type: string; state: string }[] }>(
      store.dir,
      'jobs',
      'list',
    );
    expect(jobs.items.map((j) => j.type)).toEqual(
      expect.arrayContaining(['ingest', 'revert', 'retrieve', 'historical']),
    );
    expect(jobs.items.every((j) => j.state === 'succeeded')).toBe(true);
  });

  const badCases: [string, string, RegExp][] = [
    ['a missing column', 'user_id,ts,clicks\n1,2026-01-01T00:00:00Z,3\n', /country/],
    [
      'an unknown extra column',
      'user_id,ts,clicks,country,extra\n1,2026-01-01T00:00:00Z,3,DE,x\n',
      /extra/,
    ],
    [
      'a value that does not parse',
      'user_id,ts,clicks,country\n1,2026-01-01T00:00:00Z,3,DE\n2,2026-01-01T00:00:00Z,many,FR\n',
      /clicks.*many|many.*clicks/,
    ],
    ['a null key', 'user_id,ts,clicks,country\n,2026-01-01T00:00:00Z,3,DE\n', /user_id/],
    ['a null event time', 'user_id,ts,clicks,country\n1,,3,DE\n', /ts/],
    ['an empty file', '', /empty|no rows|no data/i],
  ];
  it.each(badCases)(
    'refuses %s with a clear error and commits nothing',
    async (_case, content, message) => {
      const before = await cliJson<{ items: unknown[] }>(store.dir, 'ingestions', 'shop', 'events');
      const path = file(`bad-${Math.random().toString(36).slice(2)}.csv`);
      await writeFile(path, content);
      const result = await cli(store.dir, 'ingest', 'shop', 'events', path);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).toContain('[VALIDATION]');
      const after = await cliJson<{ items: unknown[] }>(store.dir, 'ingestions', 'shop', 'events');
      expect(after.items).toHaveLength(before.items.length);
    },
  );

  it('computes the statistics the featurestore.statistics tag asks for', async () => {
    await writeFile(file('stats.csv'), 'user_id,ts,clicks,country\n1,2026-01-05T10:00:00Z,3,DE\n');
    const statisticsOf = async () => {
      await cliJson(store.dir, 'ingest', 'shop', 'events', file('stats.csv'));
      const { items } = await cliJson<{ items: { statistics: Record<string, object> }[] }>(
        store.dir,
        'ingestions',
        'shop',
        'events',
      );
      return items.at(-1)!.statistics.clicks;
    };
    const setStatistics = (level: string) =>
      cli(
        store.dir,
        'featureset',
        'update',
        'shop',
        'events',
        '--tag',
        `featurestore.statistics=${level}`,
      );
    expect(await statisticsOf()).toMatchObject({ count: 1, mean: 3, approxDistinct: 1 });
    expect((await setStatistics('basic')).code).toBe(0);
    expect(await statisticsOf()).toEqual({ count: 1, nulls: 0, min: 3, max: 3 });
    expect((await setStatistics('none')).stderr).toMatch(
      /featurestore\.statistics is "none"; use one of full, basic/,
    );
    expect((await setStatistics('full')).code).toBe(0);
  });

  it('refuses a source that does not exist and an unknown feature reference', async () => {
    expect((await cli(store.dir, 'ingest', 'shop', 'events', file('nope.csv'))).stderr).toMatch(
      /nope\.csv does not exist/,
    );
    const unknown = await cli(
      store.dir,
      'historical',
      '--entities',
      file('entities.csv'),
      '--entity-time',
      'at',
      '--features',
      'shop/events:nope',
      '--out',
      output('x.csv'),
    );
    expect(unknown.stderr).toMatch(/feature "nope" does not exist in shop\/events/);
  });
});

describe('a process killed in the middle of an ingestion', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    store = await tempStore();
    const fs = await openFeatureStore({ store: store.dir });
    await fs.engine.projects.create(fs.principal, { name: 'crash' });
    // Offline only: applying a million rows online after the commit is not what this test is
    // about, and took most of its time on a busy machine.
    await fs.engine.featureSets.register(fs.principal, 'crash', 'events', {
      ...events,
      tags: { 'featurestore.online': 'off' },
    });
    await fs.close();
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await store.remove();
  });

  it('leaves nothing visible, and the retry with the same key commits exactly once', async () => {
    // Big enough that the child is still writing it when the test sees its first data file,
    // small enough to ingest twice on a busy machine; written 10,000 lines per call.
    const rows = 1_000_000;
    const source = join(store.dir, 'big.csv');
    const out = createWriteStream(source);
    out.write('user_id,ts,clicks,country\n');
    for (let start = 0; start < rows; start += 10_000) {
      let chunk = '';
      for (let i = start; i < start + 10_000; i++) {
        chunk += `${i},2026-01-01T00:00:${String(i % 60).padStart(2, '0')}Z,${i % 100},DE\n`;
      }
      if (!out.write(chunk)) await new Promise((resolve) => out.once('drain', resolve));
    }
    await new Promise((resolve) => out.end(resolve));

    child = spawnSource(
      new URL('./fixtures/ingest-and-hang.ts', import.meta.url),
      [store.dir, source, 'big-1'],
      ['ignore', 'pipe', 'inherit'],
    );
    const output: string[] = [];
    child.stdout!.on('data', (chunk) => output.push(String(chunk)));
    // Killed while it writes its data: seconds before it could commit (it prints `started`
    // before it reads the source).
    await until(
      async () => {
        if (child!.exitCode !== null || child!.signalCode !== null)
          throw new Error(`child exited early: ${output.join('')}`);
        return (await allFiles(join(store.dir, 'data', 'featuresets'))).length > 0;
      },
      'the ingestion to write its first data file',
      60_000,
    );
    expect(output.join('')).toContain('started');
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect(output.join('')).not.toContain('finished');

    const fs: FeatureStore = await openFeatureStore({ store: store.dir });
    try {
      expect(await fs.engine.offline.ingestions(fs.principal, 'crash', 'events')).toEqual([]);
      const interrupted = (await fs.engine.jobs.list(fs.principal)).items[0]!;
      expect(interrupted).toMatchObject({
        type: 'ingest',
        state: 'failed',
        error: { code: 'INTERRUPTED' },
      });
      expect(await allFiles(join(store.dir, 'data', 'featuresets'))).toEqual([]);

      const retry = await (
        await fs.engine.offline.ingest(fs.principal, 'crash', 'events', source, {
          idempotencyKey: 'big-1',
        })
      ).result;
      expect(retry).toMatchObject({ rowCount: rows, reused: false });
      const again = await (
        await fs.engine.offline.ingest(fs.principal, 'crash', 'events', source, {
          idempotencyKey: 'big-1',
        })
      ).result;
      expect(again).toMatchObject({ ingestionId: retry.ingestionId, reused: true });
      expect(await fs.engine.offline.ingestions(fs.principal, 'crash', 'events')).toHaveLength(1);
    } finally {
      await fs.close();
    }
    // Every step waits on a condition; this only bounds a run on a very busy machine, where
    // writing and twice ingesting a million rows took longer than the 120 s it had before.
  }, 300_000);
});
