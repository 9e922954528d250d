#!/usr/bin/env bash
# Set up (see setup.sh) and run every check: unit and end-to-end tests (real Prosody and ejabberd, real
# PostgreSQL, packed tarballs installed with npm), type checks, lint and format (biome), and the package
# checks (publint, attw), all on Node 24; then the unit suites and tests/consumer again on Node 22 (scripts/node.sh
# installs both). Ends with one line "N passed, N failed" over all test runs.
set -uo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1

bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
source scripts/node.sh || { echo "0 passed, 1 failed"; exit 1; } # Node 24 (setup.sh installed it) first on PATH

rm -rf .reports && mkdir -p .reports
checks_failed=0
# Test files start servers on free ports; run the packages one after another on the 2-core machine.
tests_task_failed=0
pnpm exec turbo run test --concurrency=1 --continue --output-logs=full || tests_task_failed=1
pnpm exec turbo run typecheck --continue --output-logs=errors-only || { echo "typecheck failed"; checks_failed=$((checks_failed + 1)); }
pnpm exec biome ci . || { echo "lint/format (biome) failed: run pnpm format, then read what is left"; checks_failed=$((checks_failed + 1)); }
pnpm exec turbo run check:package --continue --output-logs=errors-only || { echo "package checks (publint/attw) failed"; checks_failed=$((checks_failed + 1)); }
# Node 22 (maintenance LTS): the unit suites and tests/consumer again, reports in .reports/node22-*.json.
# Measured on its own on the 2-core machine: 228 s (3 min 48 s) for 629 tests in 11 runs.
bash scripts/test-node22.sh .reports
node22_broken=$?

# Type checks and package checks count as one failed test each when they fail; a test task that failed
# without a failing test in its report (no tests found, crashed runner) counts as one too, and so does each
# such Node 22 run (or the Node 22 step itself when it could not start).
node scripts/test-summary.mjs .reports "$((checks_failed + node22_broken))" "$tests_task_failed"
