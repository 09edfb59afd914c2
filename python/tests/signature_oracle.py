"""The worker's grammar and DSPy 3.4.1 as a line-oriented oracle, for the TS parity suite
(test/integration/signature-parity.test.ts): each stdin line is a JSON string, each stdout line
``{"worker": <verdict>, "dspy": <verdict>, "dspy_canonical": <verdict of the canonical text> | null}``.

``worker`` is :func:`tests.test_signature_grammar.verdict` (fields, canonical, or column, expected and
refusal); ``dspy`` is :func:`tests.dspy_reference.dspy_verdict`. Run from ``python/``:
``.venv/bin/python -m tests.signature_oracle``.
"""

from __future__ import annotations

import json
import sys
import warnings

from .dspy_reference import dspy_verdict
from .test_signature_grammar import verdict


def answer(text: str) -> dict[str, object]:
    worker = verdict(text)
    return {"worker": worker, "dspy": dspy_verdict(text),
            "dspy_canonical": dspy_verdict(worker["canonical"]) if worker["ok"] else None}


def main() -> None:
    warnings.simplefilter("ignore")
    out = sys.stdout
    for line in sys.stdin:
        if line.strip():
            out.write(json.dumps(answer(json.loads(line))) + "\n")
            out.flush()


if __name__ == "__main__":
    main()
