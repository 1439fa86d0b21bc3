import { spawn } from 'node:child_process';
import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalLogQueue, partitionOf, type QueueMessage } from '../src/index.js';
import { messageQueueConformance } from '../src/testing/index.js';

const api = { describe, it, beforeAll, afterAll };
const folders: string[] = [];
afterAll(async () => {
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

async function folder(): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), 'featurestore-queue-'));
  folders.push(path);
  return path;
}

describe('in memory', () => {
  messageQueueConformance(api, async () => new LocalLogQueue());
});

describe('on disk', () => {
  messageQueueConformance(api, async () => new LocalLogQueue({ directory: await folder() }));
});

describe('on disk, with tiny segments', () => {
  // Every few messages start a new segment: reads cross segment boundaries all the time.
  messageQueueConformance(
    api,
    async () => new LocalLogQueue({ directory: await folder(), segmentBytes: 300 }),
  );
});

const text = (message: QueueMessage) => Buffer.from(message.value).toString('utf8');
const utf8 = (value: string) => new TextEncoder().encode(value);

async function until(predicate: () => boolean, what: string, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Subscribes and collects message texts; `stuck` makes the handler never resolve. */
async function collect(
  queue: LocalLogQueue,
  topic: string,
  group: string,
  options: { stuck?: boolean; fromBeginning?: boolean } = {},
): Promise<string[]> {
  const got: string[] = [];
  await queue.subscribe({
    topic,
    group,
    fromBeginning: options.fromBeginning ?? false,
    handler: async (batch) => {
      got.push(...batch.map(text));
      if (options.stuck) await new Promise(() => {});
    },
  });
  return got;
}

describe('durability on disk', () => {
  it('redelivers what a group had not committed after a restart, and only that', async () => {
    const directory = await folder();
    let queue = new LocalLogQueue({ directory });
    const sent = ['m0', 'm1', 'm2', 'm3', 'm4'];
    await queue.publish(sent.map((value) => ({ topic: 'jobs', key: 'k', value: utf8(value) })));
    const first = await collect(queue, 'jobs', 'workers', { stuck: true, fromBeginning: true });
    await until(() => first.length > 0, 'the first delivery');
    await queue.close(); // the handler never resolved: nothing committed

    queue = new LocalLogQueue({ directory });
    const second = await collect(queue, 'jobs', 'workers');
    await until(() => second.length >= sent.length, 'the redelivery');
    expect(second).toEqual(sent);
    await queue.close();
    const saved = JSON.parse(await readFile(join(directory, 'groups/workers/jobs.json'), 'utf8'));
    expect(saved.offsets.reduce((sum: number, offset: number) => sum + offset, 0)).toBe(5);

    queue = new LocalLogQueue({ directory });
    const third = await collect(queue, 'jobs', 'workers', { fromBeginning: true });
    await queue.publish([{ topic: 'jobs', key: 'k', value: utf8('m5') }]);
    await until(() => third.length >= 1, 'the new message');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(third).toEqual(['m5']);
    await queue.close();
  });

  it('keeps every acknowledged publish of a process killed mid-stream', async () => {
    const directory = await folder();
    const source = fileURLToPath(new URL('../src/queue/local-log-queue.ts', import.meta.url));
    const script = join(directory, 'publisher.mts');
    await writeFile(
      script,
      `import { LocalLogQueue } from ${JSON.stringify(source)};
const queue = new LocalLogQueue({ directory: ${JSON.stringify(join(directory, 'q'))}, segmentBytes: 4096 });
for (let batch = 0; ; batch++) {
  await queue.publish(Array.from({ length: 20 }, (_, i) => ({
    topic: 'ingest', key: 'k' + (i % 5), value: new TextEncoder().encode(batch + ':' + i),
  })));
  process.stdout.write('acked ' + batch + '\\n');
}
`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: fileURLToPath(new URL('../../..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let acked = -1;
    let errors = '';
    child.stderr.on('data', (chunk) => {
      errors += chunk;
    });
    child.stdout.on('data', (chunk: Buffer) => {
      for (const match of chunk.toString().matchAll(/acked (\d+)/g)) acked = Number(match[1]);
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await until(() => acked >= 30 || child.exitCode !== null, 'the publisher', 30_000);
    child.kill('SIGKILL');
    await exited;
    expect(errors).toBe('');
    const ackedAtKill = acked;

    const queue = new LocalLogQueue({ directory: join(directory, 'q'), segmentBytes: 4096 });
    const got = await collect(queue, 'ingest', 'sync', { fromBeginning: true });
    // Delivery is at least once and unacknowledged batches may be there too, so a count of
    // received messages proves nothing: wait for each acknowledged message by name.
    const acknowledged = Array.from(
      { length: (ackedAtKill + 1) * 20 },
      (_, n) => `${Math.floor(n / 20)}:${n % 20}`,
    );
    await until(
      () => {
        const seen = new Set(got);
        return acknowledged.every((message) => seen.has(message));
      },
      `every acknowledged message (${acknowledged.length})`,
      30_000,
    );
    // Per key, batches arrive in order: the log has no gap and no reordering.
    for (let key = 0; key < 5; key++) {
      const batches = got
        .filter((value) => Number(value.split(':')[1]) % 5 === key)
        .map((value) => Number(value.split(':')[0]));
      expect(batches).toEqual([...batches].sort((a, b) => a - b));
    }
    await queue.close();
  }, 60_000);

  it('cuts off an entry a crash left half written, and appends after it', async () => {
    const directory = await folder();
    let queue = new LocalLogQueue({ directory, partitions: 1 });
    await queue.publish(
      ['a', 'b', 'c'].map((value) => ({ topic: 't', key: 'k', value: utf8(value) })),
    );
    await queue.close();
    const segment = join(directory, 'topics/t/0/00000000000000000000.jsonl');
    await appendFile(segment, '{"o":3,"t":1,"k":"k","v":"ZG');

    queue = new LocalLogQueue({ directory, partitions: 1 });
    await queue.publish([{ topic: 't', key: 'k', value: utf8('d') }]);
    const got = await collect(queue, 't', 'g', { fromBeginning: true });
    await until(() => got.length >= 4, 'four messages');
    expect(got).toEqual(['a', 'b', 'c', 'd']);
    await queue.close();
    const lines = (await readFile(segment, 'utf8')).trimEnd().split('\n');
    expect(lines.map((line) => JSON.parse(line).o)).toEqual([0, 1, 2, 3]);
  });

  it("keeps a topic's partition count when reopened with another setting", async () => {
    const directory = await folder();
    let queue = new LocalLogQueue({ directory, partitions: 2 });
    await queue.publish([{ topic: 't', key: 'k', value: utf8('x') }]);
    await queue.close();
    queue = new LocalLogQueue({ directory, partitions: 8 });
    await queue.publish([{ topic: 't', key: 'k', value: utf8('y') }]);
    const got = await collect(queue, 't', 'g', { fromBeginning: true });
    await until(() => got.length >= 2, 'both messages');
    expect(got).toEqual(['x', 'y']);
    await queue.close();
    expect((await readdir(join(directory, 'topics/t'))).sort()).toEqual(['0', '1', 'topic.json']);
  });

  it('deletes closed segments past the retention when the log rolls', async () => {
    const directory = await folder();
    // The queue's own clock, moved by the test: however slow the machine, no write of the
    // test itself ages past the retention, and the old ones are past it for sure.
    let now = Date.parse('2026-01-01T00:00:00Z');
    const queue = new LocalLogQueue({
      directory,
      partitions: 1,
      segmentBytes: 200,
      retentionMs: 60_000,
      now: () => now,
    });
    for (let i = 0; i < 10; i++) {
      await queue.publish([{ topic: 't', key: 'k', value: utf8(`old ${i}`) }]);
    }
    const before = await readdir(join(directory, 'topics/t/0'));
    expect(before.length).toBeGreaterThan(2);
    now += 60_001;
    // Enough to fill the current segment and roll it at least once.
    for (let i = 0; i < 8; i++) {
      await queue.publish([{ topic: 't', key: 'k', value: utf8(`new ${i}`) }]);
    }
    const segments = await readdir(join(directory, 'topics/t/0'));
    expect(segments.length).toBeLessThanOrEqual(3);
    expect(segments.filter((name) => before.includes(name)).length).toBeLessThanOrEqual(1);
    const got = await collect(queue, 't', 'g', { fromBeginning: true });
    await until(() => got.includes('new 7'), 'the newest message');
    expect(got.filter((value) => value.startsWith('old')).length).toBeLessThan(10);
    expect(got.filter((value) => value.startsWith('new'))).toEqual(
      Array.from({ length: 8 }, (_, i) => `new ${i}`),
    );
    await queue.close();
  });

  it('judges the retention by its clock, not by how long the machine takes', async () => {
    const directory = await folder();
    // A clock that stands still: by it no segment ever ages, even with a 1 ms retention.
    const now = Date.parse('2026-01-01T00:00:00Z');
    const queue = new LocalLogQueue({
      directory,
      partitions: 1,
      segmentBytes: 200,
      retentionMs: 1,
      now: () => now,
    });
    for (let i = 0; i < 20; i++) {
      await queue.publish([{ topic: 't', key: 'k', value: utf8(`kept ${i}`) }]);
      // Real time passes between publishes: the wall clock would expire every closed segment.
      const published = Date.now();
      await until(() => Date.now() > published + 1, 'real time to pass', 1000);
    }
    expect((await readdir(join(directory, 'topics/t/0'))).length).toBeGreaterThan(3);
    const got = await collect(queue, 't', 'g', { fromBeginning: true });
    await until(() => got.includes('kept 19'), 'the newest message');
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => `kept ${i}`));
    await queue.close();
  });
});

describe('validation', () => {
  it('refuses names that are not safe as file names, and malformed messages', async () => {
    const queue = new LocalLogQueue();
    for (const topic of ['../escape', 'a/b', '', '..', 'x'.repeat(250)]) {
      await expect(queue.publish([{ topic, key: 'k', value: utf8('x') }])).rejects.toMatchObject({
        code: 'VALIDATION',
      });
    }
    await expect(
      queue.subscribe({ topic: 't', group: 'a b', handler: async () => {} }),
    ).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(
      queue.publish([{ topic: 't', key: 'k', value: 'text' as unknown as Uint8Array }]),
    ).rejects.toMatchObject({ code: 'VALIDATION' });
    expect(() => new LocalLogQueue({ partitions: 0 })).toThrow(/partitions must be a positive/);
    await queue.close();
  });

  it('maps keys to partitions stably (FNV-1a)', () => {
    // Changing these would reorder the messages of existing logs: they must never change.
    expect(['', 'a', 'customer-42', 'clé'].map((key) => partitionOf(key, 16))).toEqual([
      5, 12, 14, 6,
    ]);
    expect(partitionOf('a', 1 << 30)).toBe(0xe40c292c % (1 << 30));
  });
});
