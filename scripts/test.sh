#!/usr/bin/env bash
# Set up (see setup.sh) and run every check: unit and end-to-end tests (real Prosody and ejabberd, real
# PostgreSQL, packed tarballs installed with npm), type checks, lint and format (biome), and the package
# checks (publint, attw).
# Ends with one line "N passed, N failed" over all test runs.
set -uo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1

bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

rm -rf .reports && mkdir -p .reports
checks_failed=0
# Test files start servers on free ports; run the packages one after another on the 2-core machine.
tests_task_failed=0
pnpm exec turbo run test --concurrency=1 --continue --output-logs=full || tests_task_failed=1
pnpm exec turbo run typecheck --continue --output-logs=errors-only || { echo "typecheck failed"; checks_failed=$((checks_failed + 1)); }
pnpm exec biome ci . || { echo "lint/format (biome) failed: run pnpm format, then read what is left"; checks_failed=$((checks_failed + 1)); }
pnpm exec turbo run check:package --continue --output-logs=errors-only || { echo "package checks (publint/attw) failed"; checks_failed=$((checks_failed + 1)); }

# Type checks and package checks count as one failed test each when they fail; a test task that failed
# without a failing test in its report (no tests found, crashed runner) counts as one too.
node scripts/test-summary.mjs .reports "$checks_failed" "$tests_task_failed"
