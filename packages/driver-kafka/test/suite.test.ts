import { messageQueueConformance, serviceEnv } from '@featurestore/core/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { KafkaMessageQueue, type KafkaMessageQueueOptions } from '../src/index.js';

const api = { describe, it, beforeAll, afterAll };
const queue = (options: Partial<KafkaMessageQueueOptions> = {}) =>
  KafkaMessageQueue.fromUrl(`kafka://${serviceEnv('FEATURESTORE_TEST_KAFKA_BROKERS')}`, {
    clientId: 'featurestore-conformance',
    partitions: 4,
    replicationFactor: 1,
    // Rebalances in about a second instead of the production defaults' several.
    consumer: {
      sessionTimeout: 6000,
      rebalanceTimeout: 3000,
      heartbeatInterval: 300,
      maxWaitTimeInMs: 100,
    },
    retryHandlerAfterMs: 100,
    ...options,
  });

describe('Kafka', () => {
  messageQueueConformance(api, async () => queue(), { deliveryTimeout: 20_000 });
});

describe('Kafka, each publish split into many small requests', () => {
  // A few messages per `sendBatch`: positions and order must hold across the requests of one
  // publish, where a topic-partition's offsets restart from each answer's base offset.
  messageQueueConformance(api, async () => queue({ maxBatchBytes: 300 }), {
    skip: ['groups', 'atLeastOnce', 'fromBeginning', 'close'],
    deliveryTimeout: 20_000,
  });
});
