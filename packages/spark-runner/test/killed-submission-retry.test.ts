import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFeatureStore } from '@featurestore/server';
import { afterAll, beforeAll, describe as describeFor, expect, it } from 'vitest';
import { sparkLeg, sparkTestOptions } from './spark-service.js';

/** The pids of this process's spark-submit children. */
async function submissions(): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const command = await readFile(`/proc/${entry}/cmdline`, 'utf8');
      if (parent === process.pid && command.includes('featurestore_job.py'))
        found.push(Number(entry));
    } catch {
      // The process ended while it was looked at.
    }
  }
  return found;
}

async function allFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

const events = {
  primaryKey: ['user_id'],
  eventTime: 'ts',
  features: [
    { name: 'user_id', type: 'int64' },
    { name: 'ts', type: 'timestamp' },
    { name: 'clicks', type: 'int32' },
  ],
  tags: { 'featurestore.online': 'off' },
};

sparkLeg(describeFor)('a store whose compute is Spark', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'featurestore-spark-store-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a killed spark-submit leaves no ingestion visible; the retry with the same key commits once', async () => {
    const { master, sparkSubmit, python, conf } = sparkTestOptions({ master: 'local[2]' });
    const fs = await openFeatureStore({
      store: dir,
      compute: `spark://${master}`,
      drivers: { spark: { sparkSubmit, python, conf } },
    });
    try {
      await fs.engine.projects.create(fs.principal, { name: 'crash' });
      await fs.engine.featureSets.register(fs.principal, 'crash', 'events', events);
      const rows = 100_000;
      const source = join(dir, 'events.csv');
      const out = createWriteStream(source);
      out.write('user_id,ts,clicks\n');
      for (let i = 0; i < rows; i++) out.write(`${i},2026-01-01T00:00:00Z,${i % 100}\n`);
      await new Promise((resolve) => out.end(resolve));

      let killed = false;
      const first = await fs.engine.offline.ingest(fs.principal, 'crash', 'events', source, {
        idempotencyKey: 'spark-1',
      });
      // Killed from outside (a lost node, the OOM killer) once Spark writes the ingestion's
      // files (its staged parts).
      const kill = setInterval(() => {
        void (async () => {
          if (killed || (await allFiles(join(dir, 'data', 'featuresets'))).length === 0) return;
          const pids = await submissions();
          if (killed || pids.length === 0) return;
          killed = true;
          for (const pid of pids) process.kill(-pid, 'SIGKILL');
        })();
      }, 20);
      await expect(first.result).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      clearInterval(kill);
      expect(killed).toBe(true);
      expect(await fs.engine.offline.ingestions(fs.principal, 'crash', 'events')).toEqual([]);
      expect(await allFiles(join(dir, 'data', 'featuresets'))).toEqual([]);

      const retry = await (
        await fs.engine.offline.ingest(fs.principal, 'crash', 'events', source, {
          idempotencyKey: 'spark-1',
        })
      ).result;
      expect(retry).toMatchObject({ rowCount: rows, reused: false });
      const again = await (
        await fs.engine.offline.ingest(fs.principal, 'crash', 'events', source, {
          idempotencyKey: 'spark-1',
        })
      ).result;
      expect(again).toMatchObject({ ingestionId: retry.ingestionId, reused: true });
      expect(await fs.engine.offline.ingestions(fs.principal, 'crash', 'events')).toHaveLength(1);
    } finally {
      await fs.close();
    }
  }, 600_000);
});
