// Shared vitest setup. Every package writes a JSON report to <repo>/.reports so that
// scripts/test-summary.mjs can print one "N passed, N failed" line over all runs.
import { basename, resolve } from "node:path";
import { defineConfig } from "vitest/config";

export function packageTests(dir: string, overrides: { testTimeout?: number; hookTimeout?: number } = {}) {
  const name = basename(dir);
  return defineConfig({
    test: {
      include: ["src/**/*.test.ts", "test/**/*.test.ts"],
      testTimeout: overrides.testTimeout ?? 30_000,
      hookTimeout: overrides.hookTimeout ?? 30_000,
      reporters: ["default", "json"],
      outputFile: { json: resolve(dir, "../../.reports", `${name}.json`) },
      // E2E files each start their own Prosody on free ports; run files one at a time per package
      // so the 2-core CI machine is not oversubscribed.
      fileParallelism: false,
    },
  });
}
