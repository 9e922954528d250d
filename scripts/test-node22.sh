#!/usr/bin/env bash
# The Node 22 (maintenance LTS) step of test.sh, which runs it after the whole suite on Node 24: every package's
# unit suites (each vitest file but *.e2e.test.ts, the PostgreSQL and Chromium ones included) and the
# packed-consumer test (tests/consumer), against the builds already made (run setup.sh first to run it alone).
# One JSON report per run, <reports>/node22-<package>.json (default .reports), which test-summary.mjs counts with
# the rest. Exits with the number of runs that failed without a failing test in their report (crashed, no test
# found): test.sh counts each as one failed test.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
source scripts/node.sh || exit 1
reports=$(realpath -m "${1:-.reports}")
mkdir -p "$reports"
export PATH="$XMPPKIT_NODE22_BIN:$PATH" npm_config_nodedir="${XMPPKIT_NODE22_BIN%/bin}"
if [ "$(node --version)" != "v$NODE22" ]; then
  echo "test-node22: node on PATH is $(node --version), not v$NODE22" >&2
  exit 1
fi

broken=0
run() { # <package dir> [vitest arguments...]
  local dir=$1 report
  report="$reports/node22-$(basename "$1").json"
  shift
  rm -f "$report"
  (cd "$dir" && pnpm exec vitest run --outputFile.json="$report" "$@") && return 0
  node -e 'const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    process.exit(r.numFailedTests || r.numFailedTestSuites || r.numRuntimeErrorTestSuites ? 0 : 1);' "$report" 2>/dev/null ||
    broken=$((broken + 1))
}
for dir in packages/* apps/*; do
  if [ -f "$dir/vitest.config.ts" ]; then run "$dir" --exclude '**/*.e2e.test.ts'; fi
done
run tests/consumer
echo "test-node22: unit suites and tests/consumer on Node $NODE22 in ${SECONDS}s"
exit "$broken"
