import { createServer } from 'node:net';
import { FeatureStoreError } from '@featurestore/core/driver';
import { serviceEnv, uniqueName } from '@featurestore/core/testing';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  convertKafkaError,
  type KafkaLogRecord,
  KafkaMessageQueue,
  parseKafkaUrl,
} from '../src/index.js';

const { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } = kafkajs;

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function failure(promise: Promise<unknown>): Promise<FeatureStoreError> {
  try {
    await promise;
  } catch (error) {
    return error as FeatureStoreError;
  }
  throw new Error('expected the call to fail');
}

describe('an unreachable broker', () => {
  it('fails publish within seconds with UnavailableError naming the brokers', async () => {
    const port = await closedPort();
    const queue = KafkaMessageQueue.fromUrl(`kafka://127.0.0.1:${port}`);
    const started = Date.now();
    const error = await failure(
      queue.publish([{ topic: 't', key: 'k', value: new Uint8Array(1) }]),
    );
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(FeatureStoreError);
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).toMatch(/cannot reach the Kafka brokers .* check that they are running/);
    expect(error.details.brokers).toEqual([`127.0.0.1:${port}`]);
    // The default retries give up after about 6 s, not minutes.
    expect(elapsed).toBeLessThan(15_000);
    await queue.close();
  }, 30_000);

  it('fails subscribe the same way, with fewer retries when configured', async () => {
    const port = await closedPort();
    const queue = KafkaMessageQueue.fromUrl(`kafka://127.0.0.1:${port}`, {
      retry: { retries: 1, initialRetryTime: 50 },
    });
    const error = await failure(
      queue.subscribe({ topic: 't', group: 'g', handler: async () => {} }),
    );
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toContain(`127.0.0.1:${port}`);
    await queue.close();
  }, 30_000);
});

describe('lifecycle and options', () => {
  it('refuses calls after close with a non-retryable UNAVAILABLE error', async () => {
    const queue = new KafkaMessageQueue({ brokers: ['127.0.0.1:1'] });
    await queue.close();
    const error = await failure(queue.publish([]));
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/is closed/);
  });

  it('validates its options and messages before touching the network', async () => {
    expect(() => new KafkaMessageQueue({ brokers: [] })).toThrow(/needs brokers/);
    expect(() => new KafkaMessageQueue({ brokers: ['b:9092'], partitions: 0 })).toThrow(
      /partitions must be a positive integer/,
    );
    const queue = new KafkaMessageQueue({ brokers: ['127.0.0.1:1'] });
    for (const message of [
      { topic: 'bad topic', key: 'k', value: new Uint8Array(0) },
      { topic: 't', key: 1 as unknown as string, value: new Uint8Array(0) },
      { topic: 't', key: 'k', value: 'text' as unknown as Uint8Array },
    ]) {
      expect((await failure(queue.publish([message]))).code).toBe('VALIDATION');
    }
    await queue.close();
  });

  it('passes kafkajs log lines to the given logger, and is silent without one', async () => {
    const records: KafkaLogRecord[] = [];
    const port = await closedPort();
    const queue = KafkaMessageQueue.fromUrl(`kafka://127.0.0.1:${port}`, {
      retry: { retries: 0 },
      log: (record) => records.push(record),
      logLevel: 'error',
    });
    await failure(queue.publish([{ topic: 't', key: 'k', value: new Uint8Array(1) }]));
    await queue.close();
    expect(records.length).toBeGreaterThan(0);
    expect(records.every((record) => record.level === 'error')).toBe(true);
    expect(records[0]).toMatchObject({
      namespace: expect.any(String),
      message: expect.any(String),
    });
  });

  it('creates topics with the configured partitions and accepts existing ones', async () => {
    const brokers = serviceEnv('FEATURESTORE_TEST_KAFKA_BROKERS');
    const topic = uniqueName('created');
    const queue = KafkaMessageQueue.fromUrl(`kafka://${brokers}`, { partitions: 5 });
    const other = KafkaMessageQueue.fromUrl(`kafka://${brokers}`, { partitions: 2 });
    const admin = new kafkajs.Kafka({
      brokers: brokers.split(','),
      logLevel: kafkajs.logLevel.NOTHING,
    }).admin();
    try {
      await queue.publish([{ topic, key: 'k', value: new Uint8Array([1]) }]);
      await other.publish([{ topic, key: 'k', value: new Uint8Array([2]) }]);
      await admin.connect();
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(metadata.topics[0]?.partitions).toHaveLength(5);
      const offsets = await admin.fetchTopicOffsets(topic);
      expect(offsets.reduce((sum, partition) => sum + Number(partition.high), 0)).toBe(2);
    } finally {
      await queue.close();
      await other.close();
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await admin.disconnect();
    }
  });
});

describe('parseKafkaUrl', () => {
  it('reads brokers, default ports, TLS and SASL', () => {
    expect(parseKafkaUrl('kafka://host1:9092,host2:9093')).toEqual({
      brokers: ['host1:9092', 'host2:9093'],
      ssl: false,
    });
    expect(parseKafkaUrl('kafka://k1,k2')).toEqual({ brokers: ['k1:9092', 'k2:9092'], ssl: false });
    expect(parseKafkaUrl('kafkas://[::1]:9093/')).toEqual({ brokers: ['[::1]:9093'], ssl: true });
    expect(parseKafkaUrl('kafka://app:s%40cret@b:9092?mechanism=scram-sha-512&tls=true')).toEqual({
      brokers: ['b:9092'],
      ssl: true,
      sasl: { mechanism: 'scram-sha-512', username: 'app', password: 's@cret' },
    });
  });

  it('rejects malformed URLs without echoing credentials', () => {
    for (const bad of [
      'http://b:9092',
      'kafka://',
      'kafka://b:99999',
      'kafka://a b',
      'kafka://u@b',
    ]) {
      expect(() => parseKafkaUrl(bad)).toThrow(/invalid Kafka URL/);
    }
    expect(() => parseKafkaUrl('kafka://u:secret@b?mechanism=gssapi')).toThrow(
      /^(?!.*secret).*unknown SASL mechanism/,
    );
  });
});

describe('convertKafkaError', () => {
  const brokers = ['k1:9092', 'k2:9092'];
  const protocol = (type: string, retriable = false) =>
    new KafkaJSProtocolError({ message: `broker says ${type}`, type, code: 1, retriable });

  it('maps kafkajs errors onto the error tree', () => {
    const connection = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED', {
      broker: 'k1:9092',
      code: 'ECONNREFUSED',
    });
    const retries = new KafkaJSNumberOfRetriesExceeded(connection, { retryCount: 5, retryTime: 1 });
    const cases: [unknown, string][] = [
      [connection, 'UNAVAILABLE'],
      [retries, 'UNAVAILABLE'],
      [protocol('LEADER_NOT_AVAILABLE', true), 'UNAVAILABLE'],
      [protocol('TOPIC_AUTHORIZATION_FAILED'), 'PERMISSION_DENIED'],
      [protocol('SASL_AUTHENTICATION_FAILED'), 'UNAUTHENTICATED'],
      [protocol('MESSAGE_TOO_LARGE'), 'VALIDATION'],
      [protocol('UNKNOWN_TOPIC_OR_PARTITION', true), 'NOT_FOUND'],
      [protocol('REBALANCE_IN_PROGRESS', true), 'CONFLICT'],
      [protocol('CORRUPT_MESSAGE'), 'INTERNAL'],
      [new Error('something else'), 'INTERNAL'],
    ];
    for (const [error, code] of cases) {
      const converted = convertKafkaError(error, { brokers, action: 'publishing to t' });
      expect(converted.code, String((error as Error).message)).toBe(code);
      expect(converted.cause).toBe(error);
    }
  });

  it('says what failed, where, and what to do', () => {
    const converted = convertKafkaError(
      new KafkaJSConnectionError('Connection timeout', { broker: 'k1:9092' }),
      { brokers, action: 'publishing to featurestore.jobs' },
    );
    expect(converted.message).toBe(
      'cannot reach the Kafka brokers k1:9092,k2:9092 while publishing to featurestore.jobs: Connection timeout; check that they are running and that the addresses (and TLS/SASL settings) are right, then retry',
    );
    expect(converted.retryable).toBe(true);
    const rebalance = convertKafkaError(protocol('REBALANCE_IN_PROGRESS', true));
    expect(rebalance.retryable).toBe(true);
    const passthrough = new FeatureStoreError('NOT_FOUND', 'x');
    expect(convertKafkaError(passthrough)).toBe(passthrough);
  });
});
