// Sum vitest JSON reports into one closing line: "N passed, N failed".
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2] ?? ".reports";
let passed = 0;
let failed = Number(process.argv[3] ?? 0) || 0; // failed non-vitest checks (typecheck, publint/attw)
let files = 0;
for (const name of readdirSync(dir).filter((f) => f.endsWith(".json"))) {
  const report = JSON.parse(readFileSync(join(dir, name), "utf8"));
  files += 1;
  passed += report.numPassedTests ?? 0;
  failed += (report.numFailedTests ?? 0) + (report.numRuntimeErrorTestSuites ?? 0);
  if (report.numFailedTestSuites && !report.numFailedTests) failed += report.numFailedTestSuites;
}
if (files === 0) failed += 1; // no report at all: the test run itself broke
const fromReports = failed - (Number(process.argv[3] ?? 0) || 0);
if (process.argv[4] === "1" && fromReports === 0) failed += 1; // a test task failed without a failing test
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
