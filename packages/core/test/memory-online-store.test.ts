import { afterAll, beforeAll, describe, it } from 'vitest';
import { MemoryOnlineStore } from '../src/index.js';
import { onlineStoreConformance } from '../src/testing/index.js';

describe('MemoryOnlineStore', () => {
  onlineStoreConformance(
    { describe, it, beforeAll, afterAll },
    async () => new MemoryOnlineStore(),
  );
});
