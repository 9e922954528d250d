#!/usr/bin/env bash
# The quick-start demo: a throw-away Prosody and the gateway beside it with all six modules (http-roster-admin,
# track-muc-joins, ping-muc, report-forward, report-affiliations, audit-geoip), checked the way a user and a
# trusted block-list service would (apps/gateway/demo/demo.mjs). On a fresh Debian 12 machine, as root, it installs
# only what it runs, each step skipped when done: Debian's prosody and prosody-modules (mod_privilege,
# mod_delegation), with Debian's own prosody service neither started nor enabled (install-debian-packages.sh);
# Node 24 (scripts/node.sh, which installs Node 22 beside it for the tests); pnpm; the Node packages; and a build
# of the gateway and the packages it needs. Ctrl-C (or SIGTERM, SIGHUP) stops the gateway and Prosody; it
# enables no service. `--once` runs the checks and exits. Everything else the tests need: scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1

bash scripts/install-debian-packages.sh prosody prosody-modules
source scripts/node.sh # Node 24 first on PATH: pnpm, the build, the demo and the gateway it starts run on it

# pnpm is a native binary (no Node inside); the version is package.json's packageManager, as setup.sh installs it.
pnpm_version=$(node -p 'require("./package.json").packageManager.split("@")[1]')
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$pnpm_version" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "demo: pnpm $pnpm_version is missing (run as root, or: sudo npm i -g --prefix /usr/local pnpm@$pnpm_version --allow-scripts=pnpm)" >&2
    exit 1
  fi
  echo "demo: installing pnpm $pnpm_version"
  npm i -g --prefix /usr/local "pnpm@$pnpm_version" --allow-scripts=pnpm --no-fund --no-audit >/dev/null 2>&1
fi

echo "demo: installing Node packages"
pnpm install --frozen-lockfile --reporter=append-only >/dev/null
echo "demo: building the gateway and its packages"
pnpm exec turbo run build --filter='@xmppkit/gateway...' --output-logs=errors-only
exec node apps/gateway/demo/demo.mjs "$@"
