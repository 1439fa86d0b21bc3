import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSource, tempStore, until } from './helpers.js';

/**
 * `featurestore online workers --http-listen`: a Deployment of workers alone (the Helm chart's
 * `online.workers: separate`) has metrics to scrape and probes to answer too.
 */
describe('featurestore online workers --http-listen', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  beforeAll(async () => {
    store = await tempStore();
  });
  afterAll(async () => store?.remove());

  it('serves /metrics, /healthz and /readyz while the workers run, and closes on SIGTERM', async () => {
    const child = spawnSource(new URL('../src/cli/main.ts', import.meta.url), [
      '--store',
      store.dir,
      'online',
      'workers',
      '--http-listen',
      '127.0.0.1:0',
    ]);
    let stderr = '';
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
    });
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    try {
      let address = '';
      await until(
        () => {
          if (exited) throw new Error(`the workers exited: ${stderr}`);
          address = /"http":"([^"]+)"/.exec(stderr)?.[1] ?? '';
          return address !== '';
        },
        'the workers to say where they serve HTTP',
        60_000,
      );
      const get = async (path: string) => {
        const response = await fetch(`http://${address}${path}`);
        return { status: response.status, text: await response.text() };
      };
      expect((await get('/healthz')).status).toBe(200);
      const metrics = await get('/metrics');
      expect(metrics.status).toBe(200);
      expect(metrics.text).toContain('featurestore_online_worker_errors_total');
      expect(metrics.text).toContain('featurestore_process_resident_memory_bytes');
      // Ready once the background probes answered: the metadata, online store and queue.
      await until(async () => (await get('/readyz')).status === 200, 'the workers ready', 30_000);
      expect(JSON.parse((await get('/readyz')).text)).toMatchObject({ status: 'ready' });
      const stopped = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = (await stopped) as [number | null];
      expect(code).toBe(0);
      await expect(fetch(`http://${address}/healthz`)).rejects.toThrow();
    } finally {
      if (!exited) child.kill('SIGKILL');
    }
  }, 120_000);
});
