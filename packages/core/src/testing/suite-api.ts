/**
 * The subset of a test framework a conformance suite needs. vitest, jest and mocha's BDD
 * functions all fit, so core does not depend on a test framework.
 */
export interface SuiteApi {
  describe(name: string, body: () => void): void;
  it(name: string, body: () => Promise<void> | void, timeout?: number): void;
  beforeAll(body: () => Promise<void> | void, timeout?: number): void;
  afterAll(body: () => Promise<void> | void, timeout?: number): void;
}

/** A unique, valid name for the data a test case creates, so suites can share a backend. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}
