import { messageQueueConformance, serviceEnv } from '@featurestore/core/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { KafkaMessageQueue } from '../src/index.js';

describe('Kafka', () => {
  messageQueueConformance(
    { describe, it, beforeAll, afterAll },
    async () =>
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
      }),
    { deliveryTimeout: 20_000, quietPeriod: 1000 },
  );
});
