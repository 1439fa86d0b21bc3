import { fileURLToPath } from 'node:url';
import { defineDriver, LocalFileStorage, makePrivateFolder } from '@featurestore/core';
import { z } from 'zod';

/** Object storage in a local folder: `file:///var/lib/featurestore/data` (the embedded default). */
export const localStorageDriver = defineDriver({
  name: 'local',
  port: 'storage',
  schemes: ['file'],
  options: z.object({}).strict().default({}),
  async open(url) {
    const root = fileURLToPath(url);
    await makePrivateFolder(root);
    return new LocalFileStorage(root);
  },
});
