import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import type { FeatureSetSchema, JobProgress } from '@featurestore/core/driver';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { SparkComputeEngine } from '../src/index.js';
import { sparkLeg, sparkTestOptions } from './spark-service.js';

const SCHEMA: FeatureSetSchema = {
  primaryKey: ['k'],
  eventTime: 'ts',
  features: [
    { name: 'k', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'v', type: 'int64' },
  ],
};

/** The pids of this process's spark-submit children (the submissions of the application). */
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

async function filesUnder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => !entry.isDirectory()).map((entry) => entry.name);
}

sparkLeg(describe)('spark-submit, one submission per job', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'featurestore-spark-submit-'));
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('runs each job in its own submission, which ends with the job', async () => {
    const engine = new SparkComputeEngine(sparkTestOptions({ master: 'local[2]' }));
    try {
      const source = join(root, 'one.csv');
      await writeFile(source, 'k,ts,v\na,2024-01-01T00:00:00Z,1\nb,2024-01-02T00:00:00Z,2\n');
      const ingested = await engine.run(
        {
          type: 'ingest',
          sources: [pathToFileURL(source).href],
          format: 'csv',
          schema: SCHEMA,
          outputPrefix: pathToFileURL(join(root, 'parts')).href,
        },
        { signal: new AbortController().signal, reportProgress: () => undefined },
      );
      assert.equal(ingested.rowCount, 2);
      const output = pathToFileURL(join(root, 'latest.csv')).href;
      await engine.run(
        {
          type: 'retrieve',
          schema: SCHEMA,
          inputs: [{ sequence: 1, uris: ingested.files }],
          latest: true,
          output: { uri: output, format: 'csv' },
        },
        { signal: new AbortController().signal, reportProgress: () => undefined },
      );
      assert.equal(
        (await readFile(new URL(output), 'utf8')).split('\n')[1]?.startsWith('a,'),
        true,
      );
    } finally {
      await engine.close();
    }
    assert.deepEqual(await submissions(), [], 'no submission is left running');
  }, 600_000);

  it('cancels a job while Spark is starting: CANCELLED at once, the submission killed', async () => {
    // A spark-submit that never comes up (a cluster without free cores looks the same).
    const hanging = join(root, 'hanging-spark-submit');
    await writeFile(hanging, '#!/bin/sh\nwhile :; do sleep 1; done\n', { mode: 0o755 });
    const engine = new SparkComputeEngine({
      ...sparkTestOptions({ master: 'local[2]' }),
      sparkSubmit: hanging,
      startTimeoutMs: 600_000,
    });
    const source = join(root, 'cancel.csv');
    await writeFile(source, 'k,ts,v\na,2024-01-01T00:00:00Z,1\n');
    const controller = new AbortController();
    try {
      await assert.rejects(
        engine.run(
          {
            type: 'ingest',
            sources: [pathToFileURL(source).href],
            format: 'csv',
            schema: SCHEMA,
            outputPrefix: pathToFileURL(join(root, 'cancelled')).href,
          },
          {
            signal: controller.signal,
            // Cancelled once the submission is under way, not after the start time-out.
            reportProgress: () => {
              void (async () => {
                while ((await submissions()).length === 0) await setTimeout(20);
                controller.abort();
              })();
            },
          },
        ),
        { code: 'CANCELLED' },
      );
      assert.deepEqual(await submissions(), [], 'the submission was killed');
      assert.deepEqual(await filesUnder(join(root, 'cancelled')), []);
    } finally {
      await engine.close();
    }
  }, 120_000);

  it('a killed spark-submit fails the job with UNAVAILABLE and leaves nothing under the prefix', async () => {
    const engine = new SparkComputeEngine(sparkTestOptions({ master: 'local[2]' }));
    const source = join(root, 'large.csv');
    const stream = createWriteStream(source);
    stream.write('k,ts,v\n');
    for (let i = 0; i < 200_000; i++) stream.write(`k${i},2024-01-01T00:00:00Z,${i}\n`);
    await new Promise<void>((resolve) => stream.end(resolve));
    const prefix = join(root, 'killed');
    let killed = false;
    try {
      await assert.rejects(
        engine.run(
          {
            type: 'ingest',
            sources: [pathToFileURL(source).href],
            format: 'csv',
            schema: SCHEMA,
            outputPrefix: pathToFileURL(prefix).href,
          },
          {
            signal: new AbortController().signal,
            // Killed from outside (an OOM killer, a lost node) once it reads and writes.
            reportProgress: (progress: JobProgress) => {
              if (killed || progress.phase !== 'validate and write') return;
              killed = true;
              void submissions().then((pids) => {
                for (const pid of pids) process.kill(-pid, 'SIGKILL');
              });
            },
          },
        ),
        (error: Error & { code?: string }) => {
          assert.equal(error.code, 'UNAVAILABLE', error.message);
          assert.match(error.message, /Spark application ended while running a job/);
          return true;
        },
      );
      assert.ok(killed, 'the submission was killed while the job ran');
      assert.deepEqual(await filesUnder(prefix), [], 'no part, no staging folder');
    } finally {
      await engine.close();
    }
  }, 600_000);
});
