import { defineDriver, tlsConnectionOptions, ValidationError } from '@featurestore/core/driver';
import { z } from 'zod';
import { KafkaMessageQueue } from './kafka-message-queue.js';

const positive = z.number().int().positive();

const tls = z
  .object({
    ca: z.string().optional(),
    caFile: z.string().optional(),
    cert: z.string().optional(),
    certFile: z.string().optional(),
    key: z.string().optional(),
    keyFile: z.string().optional(),
    servername: z.string().optional(),
    rejectUnauthorized: z.boolean().optional(),
  })
  .strict();

/** The `drivers.kafka` block of a configuration. */
export const kafkaDriverOptions = z
  .object({
    /** Partitions of the topics the queue creates (default 6). */
    partitions: positive.optional(),
    /** Replicas of the topics the queue creates (default: the broker's setting). */
    replicationFactor: positive.optional(),
    /** Topic-level configuration of created topics, e.g. `{ "retention.ms": "604800000" }`. */
    topicConfig: z.record(z.string(), z.string()).optional(),
    connectionTimeout: positive.optional(),
    requestTimeout: positive.optional(),
    retry: z
      .object({
        retries: z.number().int().min(0).optional(),
        initialRetryTime: positive.optional(),
        maxRetryTime: positive.optional(),
      })
      .strict()
      .optional(),
    consumer: z
      .object({
        sessionTimeout: positive.optional(),
        rebalanceTimeout: positive.optional(),
        heartbeatInterval: positive.optional(),
        maxWaitTimeInMs: positive.optional(),
        maxBytesPerPartition: positive.optional(),
      })
      .strict()
      .optional(),
    joinTimeout: positive.optional(),
    retryHandlerAfterMs: positive.optional(),
    maxBatchBytes: positive.optional(),
    /** TLS of `kafkas://` (certificates inline or as files). */
    tls: tls.optional(),
  })
  .strict()
  .default({});

/** The message queue on Apache Kafka: `kafka://host:port,…`, `kafkas://…` (TLS). */
export const kafkaDriver = defineDriver({
  name: 'kafka',
  port: 'queue',
  schemes: ['kafka', 'kafkas'],
  options: kafkaDriverOptions,
  async open(url, options, context) {
    const { tls: tlsSettings, ...rest } = options;
    if (tlsSettings !== undefined && !/^kafkas:|[?&]tls=true\b/i.test(url)) {
      throw new ValidationError(
        'drivers.kafka.tls is set but the queue URL does not use TLS: use kafkas://',
        { details: { field: 'drivers.kafka.tls' } },
      );
    }
    const ssl =
      tlsSettings === undefined
        ? undefined
        : await tlsConnectionOptions(tlsSettings, 'drivers.kafka.tls');
    return KafkaMessageQueue.fromUrl(url, {
      clientId: context.clientId,
      ...rest,
      ...(ssl === undefined ? {} : { ssl }),
    });
  },
});
