#!/usr/bin/env node
// Sums vitest JSON reports into the one line CI reads ("N passed, N failed, N skipped") and
// fails when a report is missing, no test ran, or a service smoke test did not pass: a
// service that is not reachable in CI is a failure, never a skip.
import { existsSync, readFileSync } from 'node:fs';

const SERVICES = [
  'driver-postgres',
  'driver-redis',
  'driver-kafka',
  'driver-s3',
  'driver-adls',
  'spark-runner',
];
let passed = 0;
let failed = 0;
let skipped = 0;
const problems = [];

for (const file of process.argv.slice(2)) {
  if (!existsSync(file)) {
    problems.push(`${file}: no vitest report (the test run did not finish)`);
    continue;
  }
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + report.numTodoTests;
  if (report.numTotalTests === 0) problems.push(`${file}: no test ran`);
  for (const service of SERVICES) {
    const smoke = report.testResults.find((result) =>
      result.name.endsWith(`packages/${service}/test/service-smoke.test.ts`),
    );
    const statuses = smoke?.assertionResults.map((assertion) => assertion.status) ?? [];
    if (statuses.length === 0 || statuses.some((status) => status !== 'passed')) {
      problems.push(
        `${file}: the ${service} service smoke test did not pass (${statuses.join(', ') || 'not run'})`,
      );
    }
  }
}
for (const problem of problems) console.error(problem);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(problems.length > 0 || failed > 0 ? 1 : 0);
