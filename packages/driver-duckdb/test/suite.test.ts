import { computeEngineConformance } from '@featurestore/core/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { DuckDbComputeEngine } from '../src/index.js';

computeEngineConformance(
  { describe, it, beforeAll, afterAll },
  async () => new DuckDbComputeEngine({ threads: 2, memoryLimit: '1GB' }),
);
