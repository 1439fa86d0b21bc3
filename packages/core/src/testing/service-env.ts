/**
 * Reads a connection setting written by `scripts/services up` (loaded into `process.env` by
 * the root vitest config). A missing setting is an error, never a skip: a test that needs a
 * real service must run against it.
 *
 * @example
 * const url = serviceEnv('FEATURESTORE_TEST_POSTGRES_URL');
 */
export function serviceEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(
      `${name} is not set: start the test services with \`scripts/services up\` (\`npm test\` does it) and run the tests again`,
    );
  }
  return value;
}
