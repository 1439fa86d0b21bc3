import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

/** Connection settings written by `scripts/services up`; tests read them from process.env. */
function serviceEnv(): Record<string, string> {
  const file = `${root}.services/env`;
  if (!existsSync(file)) return {};
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) env[match[1]!] = match[2]!;
  }
  return env;
}

export default defineConfig({
  resolve: {
    // Tests run against the sources: no build step between an edit and a test run.
    alias: [
      {
        // Generated gRPC code: one module per proto file (`@featurestore/protocol/<path>`).
        find: /^@featurestore\/protocol\/(.+)$/,
        replacement: `${root}packages/protocol/src/gen/$1.ts`,
      },
      {
        find: /^@featurestore\/([a-z0-9-]+)\/testing$/,
        replacement: `${root}packages/$1/src/testing/index.ts`,
      },
      {
        find: /^@featurestore\/([a-z0-9-]+)\/driver$/,
        replacement: `${root}packages/$1/src/driver.ts`,
      },
      { find: /^@featurestore\/([a-z0-9-]+)$/, replacement: `${root}packages/$1/src/index.ts` },
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts'],
    env: serviceEnv(),
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: process.env.CI
      ? ['default', ['json', { outputFile: 'test-results/vitest.json' }]]
      : ['default'],
  },
});
