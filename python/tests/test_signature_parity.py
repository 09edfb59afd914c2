"""Cross-language parity: DSPy parses the signature fixtures the way the TypeScript engine does.

Every case in fixtures/signatures/cases.json is also checked by test/unit/signature/fixtures.test.ts.
Types are compared in dspex's canonical spelling (``list[str]``, ``Optional[int]``,
``Literal['a', 'b']``, ``Union[int, str]``, ``dspy.Image``), produced from DSPy's annotations by
:mod:`.dspy_reference`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import dspy
from pydantic.errors import PydanticUserError
from pydantic_core import SchemaError

from dspex_worker.signature_types import REFUSALS, format_type

from .dspy_reference import tree

FIXTURE = Path(__file__).parents[2] / "fixtures" / "signatures" / "cases.json"
CASES: list[dict[str, Any]] = json.loads(FIXTURE.read_text(encoding="utf-8"))["cases"]

# What dspy.Signature raises for a bad string: SyntaxError from ast.parse, ValueError from its own
# checks, TypeError or PydanticUserError from pydantic's model creation.
PARSE_ERRORS = (SyntaxError, ValueError, TypeError, PydanticUserError, SchemaError)

# Names such as `json` are legal but shadow BaseModel attributes; pydantic warns about each.
pytestmark = pytest.mark.filterwarnings("ignore:Field name .* shadows an attribute:UserWarning")

def fields_of(sig: type[dspy.Signature]) -> tuple[list[list[str]], list[list[str]]]:
    """DSPy's fields in the grammar's canonical spelling (:mod:`.dspy_reference`)."""
    inputs = [[name, format_type(tree(f.annotation))] for name, f in sig.input_fields.items()]
    outputs = [[name, format_type(tree(f.annotation))] for name, f in sig.output_fields.items()]
    return inputs, outputs


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [c["id"] for c in cases]


VALID = [c for c in CASES if c["valid"]]
VALID_IN_DSPY = [c for c in VALID if not c.get("ts_only")]
TS_ONLY = [c for c in VALID if c.get("ts_only")]
INVALID = [c for c in CASES if not c["valid"] and not c.get("dspy_accepts")]
DIVERGENT = [c for c in CASES if not c["valid"] and c.get("dspy_accepts")]


def test_fixture_has_enough_cases() -> None:
    assert len(CASES) >= 150
    assert len({c["id"] for c in CASES}) == len(CASES)
    # Every deliberate refusal kind has a fixture, and every such fixture names its kind.
    assert {c.get("refusal") for c in DIVERGENT} == REFUSALS
    assert all(c.get("refusal") in REFUSALS for c in DIVERGENT)


@pytest.mark.parametrize("case", VALID_IN_DSPY, ids=_ids(VALID_IN_DSPY))
def test_dspy_parses_valid_case_like_the_fixture(case: dict[str, Any]) -> None:
    sig = dspy.Signature(case["text"], case.get("instructions"))
    assert fields_of(sig) == (case["inputs"], case["outputs"])
    if "instructions" in case:
        assert sig.instructions == case["instructions"]


@pytest.mark.parametrize("case", VALID, ids=_ids(VALID))
def test_dspy_parses_the_canonical_string_to_the_same_fields(case: dict[str, Any]) -> None:
    sig = dspy.Signature(case["canonical"])
    assert fields_of(sig) == (case["inputs"], case["outputs"])


@pytest.mark.parametrize("case", TS_ONLY, ids=_ids(TS_ONLY))
def test_dspy_rejects_typescript_spellings(case: dict[str, Any]) -> None:
    with pytest.raises(PARSE_ERRORS):
        dspy.Signature(case["text"])


@pytest.mark.parametrize("case", INVALID, ids=_ids(INVALID))
def test_dspy_rejects_invalid_case(case: dict[str, Any]) -> None:
    with pytest.raises(PARSE_ERRORS):
        dspy.Signature(case["text"])


@pytest.mark.parametrize("case", DIVERGENT, ids=_ids(DIVERGENT))
def test_dspy_still_accepts_what_dspex_rejects_on_purpose(case: dict[str, Any]) -> None:
    # If DSPy starts rejecting one of these, drop its `dspy_accepts` flag in the fixture.
    dspy.Signature(case["text"])
