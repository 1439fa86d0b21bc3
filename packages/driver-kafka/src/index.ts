export { kafkaDriver, kafkaDriverOptions } from './descriptor.js';
export { convertKafkaError, type KafkaErrorContext } from './errors.js';
export {
  DEFAULT_SESSION_TIMEOUT_MS,
  type KafkaConsumerTuning,
  type KafkaLike,
  type KafkaLogRecord,
  KafkaMessageQueue,
  type KafkaMessageQueueOptions,
  type KafkaUrlOptions,
} from './kafka-message-queue.js';
export { type KafkaLocation, parseKafkaUrl } from './kafka-url.js';
