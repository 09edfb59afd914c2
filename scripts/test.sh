#!/usr/bin/env bash
# The whole gate, in the order of STYLE.md: format → lint → types → unit → integration → Python.
# Installs what is missing first. Tests start their own nats-server processes and Python workers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
export LITELLM_LOCAL_MODEL_COST_MAP=True

step "format check (prettier)"
npx prettier --check . --log-level warn
step "lint with type information (eslint)"
npx eslint . --max-warnings 0
step "type check (tsc --noEmit)"
npx tsc --noEmit -p .
step "unit tests (vitest, with type tests)"
npx vitest run --project unit
step "integration tests (vitest, real nats-server and DSPy workers)"
npx vitest run --project integration
step "Python lint (ruff) and types (mypy)"
python/.venv/bin/ruff check python
(cd python && .venv/bin/mypy)
step "Python layers (import-linter: pyproject.toml [tool.importlinter])"
(cd python && .venv/bin/lint-imports --no-cache --no-logo)
step "Python tests (pytest, real nats-server)"
python/.venv/bin/pytest python/tests -q
