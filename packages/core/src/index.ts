export * from './errors.js';
export * from './identifiers.js';
export type * from './ports/object-storage.js';
export { LocalFileStorage } from './storage/local-file-storage.js';
export { readAll, toReadable } from './storage/object-body.js';
export { listAll, validateObjectKey } from './storage/object-keys.js';
