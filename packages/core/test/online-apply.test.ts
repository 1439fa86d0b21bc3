import { afterEach, describe, expect, it } from 'vitest';
import { ApplyWorker, LocalLogQueue } from '../src/index.js';
import { MemoryOnlineStore } from '../src/online/memory-online-store.js';
import type { PushedRow } from '../src/online/pushed-row.js';
import { ONLINE_INGEST_TOPIC } from '../src/online/pushed-row.js';
import { PushedRowsWriter } from '../src/online/pushed-row-codec.js';

const ref = { featureSetId: 'fs_1', major: 1 };
let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

/** The apply worker alone: it needs only the queue and the online store. */
async function worker() {
  const queue = new LocalLogQueue();
  const online = new MemoryOnlineStore();
  const applyWorker = new ApplyWorker({ queue, online });
  await applyWorker.start();
  close = async () => {
    await applyWorker.stop();
    await queue.close();
  };
  return { queue, online };
}

async function until(read: () => Promise<unknown>, expected: unknown): Promise<void> {
  const deadline = Date.now() + 5000;
  while (JSON.stringify(await read()) !== JSON.stringify(expected)) {
    if (Date.now() > deadline) expect(await read()).toEqual(expected);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('the apply worker', () => {
  it('applies messages of the first format (one JSON row) and of format 1 alike, newest wins', async () => {
    const { queue, online } = await worker();
    const old = (key: string, eventTime: number, amount: number): PushedRow => ({
      pushId: 'p-old',
      ...ref,
      key: [key],
      eventTime,
      writeSequence: eventTime,
      values: { amount },
    });
    // Published by a version before format 1, still on the queue after the upgrade.
    await queue.publish(
      [old('c1', 2000, 1), old('c2', 1000, 2)].map((row) => ({
        topic: ONLINE_INGEST_TOPIC,
        key: JSON.stringify([row.featureSetId, row.major, row.key]),
        value: new TextEncoder().encode(JSON.stringify(row)),
      })),
    );
    const writer = new PushedRowsWriter();
    writer.begin({ pushId: 'p-new', ...ref, names: ['amount'] });
    writer.add(['c1'], 1500, 1500, [10]); // older than the first-format row: stays unapplied
    writer.add(['c2'], 1500, 1500, [20]);
    writer.add(['c3'], 1500, 1500, [30]);
    await queue.publish([{ topic: ONLINE_INGEST_TOPIC, key: 'fs_1/1/0', value: writer.end() }]);

    const read = async () =>
      (
        await online.read({ featureSet: ref, keys: [['c1'], ['c2'], ['c3']], features: ['amount'] })
      ).map((record) => record && { eventTime: record.eventTime, values: record.values });
    await until(read, [
      { eventTime: 2000, values: { amount: 1 } },
      { eventTime: 1500, values: { amount: 20 } },
      { eventTime: 1500, values: { amount: 30 } },
    ]);
  });

  it('built without an offline sync, refuses to start one before it joins the apply group', async () => {
    const queue = new LocalLogQueue();
    const subscribe = queue.subscribe.bind(queue);
    const groups: string[] = [];
    queue.subscribe = (options) => {
      groups.push(options.group);
      return subscribe(options);
    };
    const applyWorker = new ApplyWorker({ queue, online: new MemoryOnlineStore() });
    close = async () => {
      await applyWorker.stop();
      await queue.close();
    };
    await expect(applyWorker.start({ offlineSync: true })).rejects.toMatchObject({
      code: 'VALIDATION',
      message: expect.stringMatching(/without an offline sync: pass offlineSync/),
      details: { field: 'offlineSync' },
    });
    expect(groups).toEqual([]);
    await applyWorker.start();
    expect(groups).toEqual(['featurestore.online.apply']);
  });
});
