#!/usr/bin/env bash
# The whole gate, in the order of STYLE.md: format → lint → types → unit → integration → Python.
# Installs what is missing first. Tests start their own nats-server processes and Python workers.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step's wall time, printed at the end (also when a step fails).
names=()
times=()
current=""
started=0
now() { date +%s.%N; }
end_step() {
  [ -n "$current" ] || return 0
  names+=("$current")
  times+=("$(awk -v a="$started" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')")
  current=""
}
summary() {
  end_step
  printf '\n\033[1m== wall time per step\033[0m\n'
  for i in "${!names[@]}"; do printf '%8s s  %s\n' "${times[$i]}" "${names[$i]}"; done
  awk -v a="$begin" -v b="$(now)" 'BEGIN { printf "%8.1f s  total\n", b - a }'
}
begin=$(now)
trap summary EXIT
step() {
  end_step
  current="$*"
  started=$(now)
  printf '\n\033[1m== %s\033[0m\n' "$*"
}
export LITELLM_LOCAL_MODEL_COST_MAP=True

step "setup (scripts/setup.sh: installs what is missing)"
bash scripts/setup.sh

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
