"""Cross-language parity: DSPy parses the signature fixtures the way the TypeScript engine does.

Every case in fixtures/signatures/cases.json is also checked by test/unit/signature/fixtures.test.ts.
Types are compared in dspex's canonical spelling (``list[str]``, ``Optional[int]``,
``Literal['a', 'b']``, ``Union[int, str]``), produced here from DSPy's annotations.
"""

from __future__ import annotations

import json
import os
import types
import typing
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import dspy
from pydantic.errors import PydanticUserError

FIXTURE = Path(__file__).parents[2] / "fixtures" / "signatures" / "cases.json"
CASES: list[dict[str, Any]] = json.loads(FIXTURE.read_text(encoding="utf-8"))["cases"]

# What dspy.Signature raises for a bad string: SyntaxError from ast.parse, ValueError from its own
# checks, TypeError or PydanticUserError from pydantic's model creation.
PARSE_ERRORS = (SyntaxError, ValueError, TypeError, PydanticUserError)

# Names such as `json` are legal but shadow BaseModel attributes; pydantic warns about each.
pytestmark = pytest.mark.filterwarnings("ignore:Field name .* shadows an attribute:UserWarning")

_SCALARS: dict[Any, str] = {str: "str", int: "int", float: "float", bool: "bool", Any: "Any"}


def _literal(value: object) -> str:
    # JSON (and so TypeScript) cannot tell 2.0 from 2; the canonical form writes integers.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


def normalise(annotation: Any) -> str:
    """DSPy's annotation in dspex's canonical type spelling."""
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    if annotation is list:
        return "list[Any]"
    if annotation is dict:
        return "dict[str, Any]"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and len(args) == 1:
        return f"list[{normalise(args[0])}]"
    if origin is dict and len(args) == 2 and args[0] is str:
        return f"dict[str, {normalise(args[1])}]"
    if origin is typing.Literal:
        return f"Literal[{', '.join(_literal(a) for a in args)}]"
    if origin is typing.Union or origin is types.UnionType:
        members = [a for a in args if a is not type(None)]
        core = normalise(members[0]) if len(members) == 1 else f"Union[{', '.join(map(normalise, members))}]"
        return f"Optional[{core}]" if len(members) < len(args) else core
    raise AssertionError(f"no canonical spelling for {annotation!r}")


def fields_of(sig: type[dspy.Signature]) -> tuple[list[list[str]], list[list[str]]]:
    inputs = [[name, normalise(f.annotation)] for name, f in sig.input_fields.items()]
    outputs = [[name, normalise(f.annotation)] for name, f in sig.output_fields.items()]
    return inputs, outputs


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [c["id"] for c in cases]


VALID = [c for c in CASES if c["valid"]]
VALID_IN_DSPY = [c for c in VALID if not c.get("ts_only")]
TS_ONLY = [c for c in VALID if c.get("ts_only")]
INVALID = [c for c in CASES if not c["valid"] and not c.get("dspy_accepts")]
DIVERGENT = [c for c in CASES if not c["valid"] and c.get("dspy_accepts")]


def test_fixture_has_enough_cases() -> None:
    assert len(CASES) >= 60
    assert len({c["id"] for c in CASES}) == len(CASES)


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
