import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalLogQueue, NamespacedQueue, type QueueMessage } from '../src/index.js';
import { messageQueueConformance } from '../src/testing/index.js';

const api = { describe, it, beforeAll, afterAll };

describe('a namespaced queue', () => {
  messageQueueConformance(api, async () => new NamespacedQueue(new LocalLogQueue(), 'store_a'));
});

describe('two namespaces on one queue', () => {
  it('never see each other’s messages, and deliver under the names they use', async () => {
    const shared = new LocalLogQueue();
    const a = new NamespacedQueue(shared, 'a');
    const b = new NamespacedQueue(shared, 'b');
    const got: Record<string, QueueMessage[]> = { a: [], b: [] };
    for (const [name, queue] of Object.entries({ a, b })) {
      await queue.subscribe({
        topic: 'rows',
        group: 'sync',
        fromBeginning: true,
        handler: async (messages) => {
          got[name]!.push(...messages);
        },
      });
    }
    await a.publish([{ topic: 'rows', key: 'k', value: new TextEncoder().encode('from a') }]);
    await b.publish([{ topic: 'rows', key: 'k', value: new TextEncoder().encode('from b') }]);
    const deadline = Date.now() + 5000;
    while ((got.a!.length < 1 || got.b!.length < 1) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(got.a!.map((m) => [m.topic, Buffer.from(m.value).toString()])).toEqual([
      ['rows', 'from a'],
    ]);
    expect(got.b!.map((m) => [m.topic, Buffer.from(m.value).toString()])).toEqual([
      ['rows', 'from b'],
    ]);
    await shared.close();
  });
});
