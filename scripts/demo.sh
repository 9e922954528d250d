#!/usr/bin/env bash
# Set up (see setup.sh), then run the gateway demo against a local Prosody. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node apps/gateway/demo/demo.mjs "$@"
