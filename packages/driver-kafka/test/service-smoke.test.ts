import { randomUUID } from 'node:crypto';
import { serviceEnv } from '@featurestore/core/testing';
import { type Consumer, Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';

describe('Kafka test service', () => {
  const kafka = new Kafka({
    clientId: 'service-smoke',
    brokers: serviceEnv('FEATURESTORE_TEST_KAFKA_BROKERS').split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  const topic = `smoke-${randomUUID()}`;
  let producer: Producer | undefined;
  let consumer: Consumer | undefined;

  afterAll(async () => {
    await consumer?.disconnect();
    await producer?.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('delivers produced messages to a consumer group', async () => {
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });

    producer = kafka.producer();
    await producer.connect();
    const sent = ['a', 'b', 'c'].map((key) => ({ key, value: `value-${key}` }));
    await producer.send({ topic, messages: sent });

    // A group, not a bare partition read: joining one exercises the group coordinator too.
    const groupId = `smoke-${randomUUID()}`;
    // disconnect() waits for the fetch in flight: a short fetch wait keeps teardown quick.
    const groupConsumer = kafka.consumer({ groupId, maxWaitTimeInMs: 250 });
    consumer = groupConsumer;
    await groupConsumer.connect();
    await groupConsumer.subscribe({ topic, fromBeginning: true });
    const received: { key: string; value: string }[] = [];
    await new Promise<void>((resolve, reject) => {
      groupConsumer
        .run({
          eachMessage: async ({ message }) => {
            received.push({ key: String(message.key), value: String(message.value) });
            if (received.length === sent.length) resolve();
          },
        })
        .catch(reject);
    });

    expect(received.sort((x, y) => x.key.localeCompare(y.key))).toEqual(sent);
    const { groups } = await admin.describeGroups([groupId]);
    expect(groups[0]).toMatchObject({ state: 'Stable', members: [expect.anything()] });
  });
});
