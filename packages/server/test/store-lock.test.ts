import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFeatureStore } from '../src/index.js';
import { spawnSource, tempStore, whenReady } from './helpers.js';

/** A real second process holding the store, run from the TypeScript sources. */
function holdStore(dir: string): Promise<ChildProcess> {
  return whenReady(
    spawnSource(new URL('./fixtures/hold-store.ts', import.meta.url), [dir]),
    /ready/,
  );
}

describe('the embedded store has one owner process at a time', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  let holder: ChildProcess | undefined;
  beforeAll(async () => {
    store = await tempStore();
  });
  afterAll(async () => {
    holder?.kill('SIGKILL');
    await store.remove();
  });

  it('a second process waits briefly, then fails naming the holder; kill -9 leaves no stale lock', async () => {
    holder = await holdStore(store.dir);
    const started = Date.now();
    await expect(openFeatureStore({ store: store.dir }, { lockWaitMs: 500 })).rejects.toMatchObject(
      {
        code: 'UNAVAILABLE',
        message: expect.stringContaining(`in use by process ${holder.pid}`),
      },
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);

    const exited = new Promise((resolve) => holder!.once('exit', resolve));
    holder.kill('SIGKILL');
    await exited;
    const reopened = await openFeatureStore({ store: store.dir }, { lockWaitMs: 0 });
    await reopened.engine.projects.create(reopened.principal, { name: 'after_crash' });
    await reopened.close();
  }, 60_000);

  it('the same process can reopen after close', async () => {
    const first = await openFeatureStore({ store: store.dir });
    await first.close();
    const second = await openFeatureStore({ store: store.dir }, { lockWaitMs: 0 });
    expect((await second.engine.projects.get(second.principal, 'after_crash')).name).toBe(
      'after_crash',
    );
    await second.close();
  });
});
