import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { serviceEnv, uniqueName } from '@featurestore/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_SESSION_TIMEOUT_MS, KafkaMessageQueue } from '../src/index.js';

/** How long a push waits for its rows by default (`featurestore online push --timeout`). */
const PUSH_WAIT_MS = 30_000;

function startMember(brokers: string, topic: string, group: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@featurestore/source',
      '--import',
      'tsx',
      fileURLToPath(new URL('./fixtures/join-group.ts', import.meta.url)),
      brokers,
      topic,
      group,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
    });
    child.stdout!.on('data', (chunk) => {
      if (String(chunk).includes('joined')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`the member exited with ${code}: ${stderr}`)));
  });
}

describe('a group member killed (SIGKILL), with the default consumer settings', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('hands its partitions to the other member well within a push’s default wait', async () => {
    expect(DEFAULT_SESSION_TIMEOUT_MS * 2).toBeLessThan(PUSH_WAIT_MS);
    const brokers = serviceEnv('FEATURESTORE_TEST_KAFKA_BROKERS');
    const topic = uniqueName('killed');
    const group = uniqueName('killed-group');
    const queue = KafkaMessageQueue.fromUrl(`kafka://${brokers}`, { partitions: 4 });
    cleanups.push(() => queue.close());
    const received = new Set<string>();
    await queue.subscribe({
      topic,
      group,
      fromBeginning: true,
      handler: async (messages) => {
        for (const message of messages) received.add(message.key);
      },
    });
    const member = await startMember(brokers, topic, group);
    cleanups.push(async () => member.kill('SIGKILL'));
    member.kill('SIGKILL');
    await once(member, 'exit');
    const killedAt = Date.now();
    // Keys over every partition: some of them belonged to the killed member.
    const keys = Array.from({ length: 16 }, (_, i) => `k${i}`);
    const positions = await queue.publish(
      keys.map((key) => ({ topic, key, value: new Uint8Array([1]) })),
    );
    expect(new Set(positions.map((p) => p.partition)).size).toBe(4);
    while (received.size < keys.length && Date.now() - killedAt < PUSH_WAIT_MS) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(received.size).toBe(keys.length);
    // The session timeout and one rebalance, not kafkajs' 30 s.
    expect(Date.now() - killedAt).toBeLessThan(PUSH_WAIT_MS - 5000);
  }, 90_000);
});
