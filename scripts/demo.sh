#!/usr/bin/env bash
# Runs the dspex demo end to end on this machine; installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export DSPEX_LOG_LEVEL="${DSPEX_LOG_LEVEL:-warn}"
exec npx tsx examples/demo.ts
