export { redisDriver, redisDriverOptions } from './descriptor.js';
export { convertRedisError, type RedisErrorContext } from './errors.js';
export { decodeKey, encodeKey, shapeKey, versionPattern, versionPrefix } from './key-layout.js';
export {
  encodeShape,
  FORMAT,
  forgetShapes,
  HEADER_BYTES,
  knowsShape,
  learnShape,
  RecordDecoder,
  RecordEncoder,
  readHeader,
  shapeOf,
  UnknownShapeError,
} from './record-codec.js';
export {
  loadIoredis,
  parseRedisUrl,
  type RedisArgument,
  type RedisClientLike,
  type RedisConnectionOptions,
  type RedisLocation,
  redact,
} from './redis-client.js';
export {
  RedisOnlineStore,
  type RedisOnlineStoreOptions,
  type RedisUrlOptions,
  type RedisWriteOptions,
} from './redis-online-store.js';
export { WRITE_SCRIPT, WRITE_SCRIPT_SHA } from './write-script.js';
