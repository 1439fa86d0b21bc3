import { createServer, type Socket } from 'node:net';
import { FeatureStoreError } from '@featurestore/core/driver';
import { describe, expect, it } from 'vitest';
import { convertKafkaError, KafkaMessageQueue } from '../src/index.js';

describe('a broker that accepts connections and never answers (frozen)', () => {
  it('fails publish with UNAVAILABLE naming the broker, not INTERNAL', async () => {
    const sockets: Socket[] = [];
    const server = createServer((socket) => {
      sockets.push(socket);
      socket.on('data', () => {}); // reads the requests, answers none
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const queue = KafkaMessageQueue.fromUrl(`kafka://127.0.0.1:${port}`, {
      connectionTimeout: 1000,
      requestTimeout: 2000,
      retry: { retries: 1, initialRetryTime: 50 },
    });
    try {
      const error = await queue.publish([{ topic: 't', key: 'k', value: new Uint8Array(1) }]).then(
        () => undefined,
        (thrown: unknown) => thrown as FeatureStoreError,
      );
      expect(error).toBeInstanceOf(FeatureStoreError);
      expect(error!.code).toBe('UNAVAILABLE');
      expect(error!.retryable).toBe(true);
      expect(error!.message).toContain(`127.0.0.1:${port}`);
      expect(error!.message).toMatch(/did not answer|cannot reach/);
    } finally {
      await queue.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 30_000);

  it('converts kafkajs’ "Broker not connected" into UNAVAILABLE naming the brokers', () => {
    const error = convertKafkaError(new Error('Broker not connected'), {
      brokers: ['kafka-1:9092'],
      action: 'publishing to t',
    });
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toMatch(
      /^the Kafka brokers kafka-1:9092 accepted the connection but did not answer while publishing to t/,
    );
  });
});
