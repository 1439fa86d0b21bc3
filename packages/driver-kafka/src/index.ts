export { convertKafkaError, type KafkaErrorContext } from './errors.js';
export {
  type KafkaConsumerTuning,
  type KafkaLike,
  type KafkaLogRecord,
  KafkaMessageQueue,
  type KafkaMessageQueueOptions,
  type KafkaUrlOptions,
} from './kafka-message-queue.js';
export { type KafkaLocation, parseKafkaUrl } from './kafka-url.js';
