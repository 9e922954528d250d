#!/usr/bin/env bash
# Install what xmppkit needs on a fresh Debian 12 machine (run as root, no prompts):
# Prosody + prosody-modules (e2e tests, demo), ejabberd (e2e tests), PostgreSQL (store tests), Chromium (web page tests),
# today's Prosody 13 and ejabberd 24.12 from bookworm-backports in a chroot beside them (scripts/backports-servers.sh),
# pnpm, the Node packages, and a build of every package. Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
need_apt=()
dpkg -s prosody prosody-modules lua-dbi-sqlite3 >/dev/null 2>&1 || need_apt+=(prosody prosody-modules lua-dbi-sqlite3) # lua-dbi-sqlite3: Prosody's SQL storage (roster batch e2e, bench)
dpkg -s ejabberd >/dev/null 2>&1 || need_apt+=(ejabberd) # the second server target of the e2e suite
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium) # the audit page's browser test (playwright-core drives it)
command -v luac5.4 >/dev/null 2>&1 || need_apt+=(lua5.4) # the Prosody example's syntax check (examples.test.ts)
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd) # the shipped unit's check (examples.test.ts)
if ((${#need_apt[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${need_apt[*]} (run as root, or: sudo apt-get install -y ${need_apt[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${need_apt[*]}"
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# Prosody 13 and ejabberd 24.12 for the e2e suite, without replacing 0.12.3 and 23.01 (cached across runs).
if [ "$(id -u)" = 0 ]; then
  bash scripts/backports-servers.sh
elif [ ! -f "${XMPPKIT_BACKPORTS_ROOT:-/var/lib/xmppkit/bookworm-backports}/.xmppkit-ready" ]; then
  echo "setup: today's servers are missing: sudo bash scripts/backports-servers.sh" >&2
  exit 1
fi

# Node 24 and 22 from the npm registry (cached); from here on everything runs on Node 24.
source scripts/node.sh

# pnpm 12 is a native binary (no Node inside); --prefix keeps it out of Node 24's directory, on every shell's PATH.
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "12.21.0" ]; then
  echo "setup: installing pnpm 12.21.0"
  npm i -g --prefix /usr/local pnpm@12.21.0 --allow-scripts=pnpm --no-fund --no-audit >/dev/null 2>&1
fi

echo "setup: installing Node packages"
pnpm install --frozen-lockfile --reporter=append-only >/dev/null

echo "setup: building"
pnpm exec turbo run build --output-logs=errors-only
