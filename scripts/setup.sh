#!/usr/bin/env bash
# Installs what dspex needs and is missing: Debian's nats-server, the npm packages (npm ci), and
# the Python worker's venv (python/.venv from python/requirements-dev.lock: the worker's runtime
# pins plus its dev tools). Safe to run repeatedly:
# each step is skipped when already done for the current lock files.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

if ! command -v nats-server >/dev/null 2>&1; then
  say "installing nats-server (Debian package)"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { say "nats-server is missing and this user cannot apt-get install it"; exit 1; }
    SUDO=sudo
  fi
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nats-server >/dev/null
fi

stamp_ok() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }

npm_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if ! stamp_ok node_modules/.dspex-stamp "$npm_sum"; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$npm_sum" > node_modules/.dspex-stamp
fi

py_sum=$(cat python/requirements-dev.lock python/pyproject.toml | sha256sum | cut -d' ' -f1)
if ! stamp_ok python/.venv/.dspex-stamp "$py_sum"; then
  say "creating the Python worker venv (python/.venv)"
  rm -rf python/.venv
  python3 -m venv python/.venv
  python/.venv/bin/pip install --quiet --disable-pip-version-check -r python/requirements-dev.lock
  python/.venv/bin/pip install --quiet --disable-pip-version-check --no-deps -e python
  echo "$py_sum" > python/.venv/.dspex-stamp
fi
