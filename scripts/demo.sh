#!/usr/bin/env bash
# Set up (see setup.sh), then run the gateway demo against a local Prosody. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/node.sh # Node 24 first on PATH: the demo and the gateway it starts run on it
exec node apps/gateway/demo/demo.mjs "$@"
