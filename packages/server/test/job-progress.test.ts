import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Job, JobProgress } from '@featurestore/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandContext } from '../src/cli/context.js';
import { followJob, holdWarnings } from '../src/cli/job-progress.js';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { tempStore } from './helpers.js';

const ROWS = 20_000;

/** Each report's job fraction never goes back, every report names its phase, the last is 1. */
function expectPhased(events: readonly JobProgress[]): void {
  expect(events.length).toBeGreaterThan(0);
  events.forEach((event, i) => {
    expect(event.phase ?? event.message).toBeTruthy();
    if (i > 0) expect(event.fraction).toBeGreaterThanOrEqual(events[i - 1]!.fraction);
  });
  expect(events.at(-1)!.fraction).toBe(1);
}

/** The phases in the order they first appear. */
const phasesOf = (events: readonly JobProgress[]) => [
  ...new Set(events.flatMap((event) => (event.phase === undefined ? [] : [event.phase]))),
];

describe('job progress: phases, rows/s and ETA, in-process and in the job record', () => {
  let fs: FeatureStore;
  let dir: string;
  const cleanups: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    const store = await tempStore();
    cleanups.push(store.remove);
    dir = store.dir;
    fs = await openFeatureStore({ store: dir });
    cleanups.push(() => fs.close());
    await fs.engine.projects.create(fs.principal, { name: 'bars' });
    for (const name of ['customers', 'orders']) {
      await fs.engine.featureSets.register(fs.principal, 'bars', name, {
        primaryKey: ['customer_id'],
        eventTime: 'ts',
        features: [
          { name: 'customer_id', type: 'string' },
          { name: 'ts', type: 'timestamp' },
          { name: 'n', type: 'int64' },
        ],
      });
    }
  }, 60_000);
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('an ingestion reports bytes read and rows/s while it parses, then statistics, commit and online apply', async () => {
    const source = join(dir, 'customers.csv');
    const lines = Array.from(
      { length: ROWS },
      (_, i) => `c${i},2024-01-0${1 + (i % 9)}T00:00:00Z,${i}`,
    );
    await writeFile(source, `customer_id,ts,n\n${lines.join('\n')}\n`);
    const running = await fs.engine.offline.ingest(fs.principal, 'bars', 'customers', source);
    const events: JobProgress[] = [];
    let during: Promise<Job> | undefined;
    fs.engine.jobs.watch(running.job.id, (event) => {
      events.push(event);
      // The record read while the job runs has the phase's figures (`jobs get`).
      if (event.phase === 'commit' && during === undefined) {
        during = fs.engine.jobs.get(fs.principal, running.job.id);
      }
    });
    const result = await running.result;
    expect(result).toMatchObject({ rowCount: ROWS, onlineApply: 'applied' });
    expectPhased(events);
    expect(phasesOf(events)).toEqual([
      'read source',
      'validate and write',
      'statistics',
      'commit',
      'online apply',
    ]);
    const written = events.filter((event) => event.phase === 'validate and write').at(-1)!;
    expect(written).toMatchObject({ phaseFraction: 1, rows: ROWS });
    expect(written.bytesRead).toBe(written.bytesTotal);
    expect(written.rowsPerSecond).toBeGreaterThan(0);
    expect(written.etaSeconds).toBe(0);
    expect(written.message).toMatch(
      /^validate and write 100% · [\d.]+ [KM]B of [\d.]+ [KM]B · 20,000 rows · [\d,]+ rows\/s · ETA 0 s$/,
    );
    const applied = events.filter((event) => event.phase === 'online apply').at(-1)!;
    expect(applied.phaseFraction).toBeGreaterThan(0);
    expect(applied.rows).toBeGreaterThan(0);
    const record = await during!;
    expect(record.detail?.phase).toBeDefined();
    expect(record.message).toBeDefined();
    // Once finished, the record is the stored one alone.
    expect((await fs.engine.jobs.get(fs.principal, running.job.id)).detail).toBeUndefined();
  }, 60_000);

  it('historical reports one join phase per feature set', async () => {
    const orders = join(dir, 'orders.csv');
    await writeFile(orders, 'customer_id,ts,n\nc1,2024-01-01T00:00:00Z,7\n');
    await (await fs.engine.offline.ingest(fs.principal, 'bars', 'orders', orders)).result;
    const entities = join(dir, 'entities.csv');
    await writeFile(entities, 'customer_id,at\nc1,2024-02-01T00:00:00Z\nc2,2024-02-01T00:00:00Z\n');
    const running = await fs.engine.offline.historical(fs.principal, {
      entities,
      entityTime: 'at',
      features: ['bars/customers:n', 'bars/orders:n'],
    });
    const events: JobProgress[] = [];
    fs.engine.jobs.watch(running.job.id, (event) => events.push(event));
    await running.result;
    expectPhased(events);
    const phases = phasesOf(events);
    expect(phases.filter((phase) => phase.startsWith('join '))).toEqual([
      'join customers (1 of 2)',
      'join orders (2 of 2)',
    ]);
    expect(phases.at(-1)).toBe('write output');
  }, 60_000);

  it('the CLI bar comes after warnings raised while setting up, and holds those raised while it is drawn', async () => {
    const isTTY = Object.getOwnPropertyDescriptor(process.stderr, 'isTTY');
    const write = process.stderr.write;
    const out: string[] = [];
    try {
      const source = join(dir, 'more-orders.csv');
      await writeFile(source, 'customer_id,ts,n\nc2,2024-01-01T00:00:00Z,1\n');
      Object.defineProperty(process.stderr, 'isTTY', { value: true, configurable: true });
      process.stderr.write = ((chunk: unknown) => {
        out.push(String(chunk));
        return true;
      }) as typeof process.stderr.write;
      // As opening an s3:// source does: the AWS SDK's notice, raised while setting up.
      process.emitWarning('NodeVersionSupportWarning: raised while the job was set up');
      const running = await fs.engine.offline.ingest(fs.principal, 'bars', 'orders', source);
      let raised = false;
      fs.engine.jobs.watch(running.job.id, (event) => {
        if (event.phase === 'commit' && !raised) {
          raised = true;
          process.emitWarning('raised while the bar is drawn');
        }
      });
      const ctx = { store: fs, options: { json: false } } as unknown as CommandContext;
      await followJob(ctx, running);
      expect(raised).toBe(true);
    } finally {
      process.stderr.write = write;
      if (isTTY) Object.defineProperty(process.stderr, 'isTTY', isTTY);
      else delete (process.stderr as { isTTY?: boolean }).isTTY;
    }
    const text = out.join('');
    const firstFrame = text.indexOf('ingest [');
    const lastFrame = text.lastIndexOf('ingest [');
    expect(text).toContain('raised while the job was set up');
    expect(text).toContain('raised while the bar is drawn');
    expect(firstFrame).toBeGreaterThan(text.indexOf('raised while the job was set up'));
    expect(text.indexOf('raised while the bar is drawn')).toBeGreaterThan(lastFrame);
    expect(text).toMatch(/ingest \[.*\] 100% \| done/);
  }, 60_000);
});

describe('holdWarnings', () => {
  it('holds process warnings while a bar is drawn and hands them on once it is gone', async () => {
    const seen: string[] = [];
    const listener = (warning: Error) => seen.push(warning.message);
    process.on('warning', listener);
    try {
      const release = holdWarnings();
      process.emitWarning('NodeVersionSupportWarning: the SDK will need a newer Node.js');
      await new Promise((resolve) => setImmediate(resolve));
      expect(seen).toEqual([]);
      release();
      expect(seen).toEqual(['NodeVersionSupportWarning: the SDK will need a newer Node.js']);
      process.emitWarning('after the bar');
      await new Promise((resolve) => setImmediate(resolve));
      expect(seen.at(-1)).toBe('after the bar');
    } finally {
      process.removeListener('warning', listener);
    }
  });
});
