import { computeEngineConformance } from '@featurestore/core/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { SparkComputeEngine } from '../src/index.js';
import { sparkLeg, sparkTestOptions } from './spark-service.js';

// Every case of the port's suite on the standalone cluster, through one long-lived
// application (a submission costs seconds; the per-job submission has its own tests).
computeEngineConformance(
  { describe: sparkLeg(describe), it, beforeAll, afterAll },
  async () => new SparkComputeEngine(sparkTestOptions({ reuseApplication: true })),
  { jobTypes: ['ingest', 'retrieve', 'historical'], timeout: 240_000 },
);
