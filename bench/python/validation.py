"""Per-message cost of checking a worker's predict request, and the validators it could have used.

``python/.venv/bin/python bench/python/validation.py [--baseline OLD_PYTHON_DIR] [--rounds N]``

Times, on the typical request of ``fixtures/protocol/valid/worker_request.predict.json`` (best of 7
rounds, microseconds per message):

- ``parse_worker_request``: what the worker runs per call (the generated schema compiled by
  fastjsonschema, the signature grammar as its hand check, the typed ``PredictCall``);
- the same schema with jsonschema alone (the per-call alternative), with and without the grammar;
- fastjsonschema alone, and the signature grammar alone (the parts);
- with ``--baseline``, ``parse_worker_request`` of another checkout's ``python/`` directory (e.g. the
  hand-written checks before the generated schemas), in a child process of the same interpreter.

Ratios are to ``parse_worker_request`` measured in this run. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema
from dspex_worker import protocol
from dspex_worker.signature_grammar import check_signature
from jsonschema import Draft7Validator

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "fixtures" / "protocol" / "valid" / "worker_request.predict.json"
CHILD = """
import json, sys, timeit
from dspex_worker import protocol
msg = json.loads(sys.argv[1]); n = int(sys.argv[2])
fn = lambda: protocol.parse_worker_request(msg)
fn()
print(min(timeit.repeat(fn, number=n, repeat=7)) / n)
"""


def per_call(fn: Callable[[], object], n: int) -> float:
    fn()
    return min(timeit.repeat(fn, number=n, repeat=7)) / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", type=Path, help="another checkout's python/ directory")
    parser.add_argument("--rounds", type=int, default=20_000, help="calls per timing round")
    args = parser.parse_args()

    msg: dict[str, Any] = json.loads(FIXTURE.read_text())["message"]
    branch = protocol.CONTRACT.validator("worker_request", "predict").schema
    fast = fastjsonschema.compile(branch, use_default=False)
    slow = Draft7Validator(branch)

    def slow_with_grammar() -> None:
        slow.is_valid(msg)
        check_signature(msg["signature"], "signature")

    rows: list[tuple[str, float]] = []
    if args.baseline is not None:
        env = {**os.environ, "PYTHONPATH": str(args.baseline.resolve())}
        out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(msg), str(args.rounds)], env=env,
                             capture_output=True, text=True, check=True)
        rows.append((f"parse_worker_request of {args.baseline}", float(out.stdout)))
    ours = per_call(lambda: protocol.parse_worker_request(msg), args.rounds)
    rows += [
        ("parse_worker_request (fastjsonschema + grammar + PredictCall)", ours),
        ("jsonschema Draft7Validator + grammar", per_call(slow_with_grammar, args.rounds)),
        ("jsonschema Draft7Validator alone", per_call(lambda: slow.is_valid(msg), args.rounds)),
        ("fastjsonschema alone", per_call(lambda: fast(msg), args.rounds)),
        ("signature grammar alone", per_call(lambda: check_signature(msg["signature"], "signature"), args.rounds)),
    ]
    print(f"request: {json.dumps(msg)}  (python {sys.version.split()[0]}, load {os.getloadavg()[0]:.2f})\n")
    print("| check | µs per message | × parse_worker_request |")
    print("|---|---:|---:|")
    for name, secs in rows:
        print(f"| {name} | {secs * 1e6:.2f} | {secs / ours:.2f} |")


if __name__ == "__main__":
    main()
