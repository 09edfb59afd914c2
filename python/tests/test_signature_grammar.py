"""The worker's allow-list grammar against the shared fixtures, the TS engine, and hostile text.

- Every case of fixtures/signatures/cases.json parses (or is refused at the same column) exactly as
  the TypeScript engine does, and the signature built from it has the fields DSPy gives the canonical
  string.
- A hypothesis property: for generated near-miss and hostile strings, the Python grammar and the TS
  engine (test/harness/signature-oracle.ts, one ``tsx`` process) agree on accept/refuse, on the
  fields and types of what they accept, and on the column of what they refuse.
- Whatever is accepted builds a ``dspy.Signature`` whose annotations hold only the grammar's types.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dspy
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dspex_worker.errors import BadRequest
from dspex_worker.signature_grammar import TYPE_EXPECTED, SignatureParseError, parse_signature_text, parse_type_text
from dspex_worker.signature_types import (
    MAX_SIGNATURE_FIELDS,
    MAX_SIGNATURE_LENGTH,
    MAX_TYPE_DEPTH,
    format_signature,
)
from dspex_worker.signatures import build_signature, to_dspy
from dspex_worker.type_registry import register_type, unregister_type

from .hostile import PROTOTYPE_NAMES, hostile_signatures
from .test_signature_parity import CASES, DIVERGENT, INVALID, VALID, fields_of

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore:Field name .* shadows an attribute:UserWarning")


def verdict(text: str) -> dict[str, Any]:
    """The Python grammar's verdict, in the oracle's shape."""
    try:
        parsed = parse_signature_text(text)
    except SignatureParseError as err:
        refused: dict[str, Any] = {"ok": False, "column": err.column, "expected": err.expected}
        if err.refusal is not None:
            refused["refusal"] = err.refusal
        return refused
    return {"ok": True, "inputs": [[f.name, f.type_text] for f in parsed.inputs],
            "outputs": [[f.name, f.type_text] for f in parsed.outputs],
            "canonical": format_signature(parsed.inputs, parsed.outputs)}


# --- the shared fixtures -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", VALID, ids=[c["id"] for c in VALID])
def test_the_grammar_parses_every_valid_fixture_like_the_ts_engine(case: dict[str, Any]) -> None:
    for text in (case["text"], case["canonical"]):
        assert verdict(text) == {"ok": True, "inputs": case["inputs"], "outputs": case["outputs"],
                                 "canonical": case["canonical"]}


@pytest.mark.parametrize("case", VALID, ids=[c["id"] for c in VALID])
def test_the_built_signature_has_the_fields_dspy_gives_the_canonical_string(case: dict[str, Any]) -> None:
    built = to_dspy(parse_signature_text(case["text"]), case.get("instructions"))
    # Trusted fixture text; DSPy cannot parse the TypeScript spellings, so those compare with the canonical.
    reference = dspy.Signature(case["canonical" if case.get("ts_only") else "text"], case.get("instructions"))
    assert fields_of(built) == fields_of(reference) == (case["inputs"], case["outputs"])
    assert built.instructions == reference.instructions
    if not case.get("ts_only"):
        for name, field in built.input_fields.items():
            # DSPy marks inputs written without a type (the prompt differs); so must we.
            assert field.json_schema_extra == reference.input_fields[name].json_schema_extra


@pytest.mark.parametrize("case", INVALID + DIVERGENT, ids=[c["id"] for c in INVALID + DIVERGENT])
def test_the_grammar_refuses_every_invalid_fixture_at_the_same_column(case: dict[str, Any]) -> None:
    result = verdict(case["text"])
    assert result["ok"] is False
    assert result["column"] == case["column"]
    assert result.get("refusal") == case.get("refusal", result.get("refusal"))


def test_a_refused_signature_is_a_400_naming_the_field_and_column() -> None:
    with pytest.raises(BadRequest) as err:
        build_signature("q: os.environ -> a", None)
    assert err.value.status == 400
    expected = f"{TYPE_EXPECTED}; of dotted names only dspy.<Type> and typing.<name>"
    assert err.value.details == {"field": "signature", "column": 4, "expected": expected, "refusal": "dotted-name"}
    assert err.value.message == f"signature column 4: expected {expected}, found 'os'"


def test_a_signature_without_outputs_is_a_400() -> None:
    with pytest.raises(BadRequest, match="at least one output field"):
        build_signature("q ->", None)


# --- limits, equal on both sides -----------------------------------------------------------------------


def _nested(depth: int) -> str:
    return "list[" * (depth - 1) + "int" + "]" * (depth - 1)


LIMIT_CASES = [
    ("q -> a" + " " * (MAX_SIGNATURE_LENGTH - 6), True),
    ("q -> a" + " " * (MAX_SIGNATURE_LENGTH - 5), False),
    (", ".join(f"f{i}" for i in range(MAX_SIGNATURE_FIELDS - 1)) + " -> a", True),
    (", ".join(f"f{i}" for i in range(MAX_SIGNATURE_FIELDS)) + " -> a", False),
    (f"q: {_nested(MAX_TYPE_DEPTH)} -> a", True),
    (f"q: {_nested(MAX_TYPE_DEPTH + 1)} -> a", False),
    (f"q: int{'[]' * (MAX_TYPE_DEPTH - 1)} -> a", True),
    (f"q: int{'[]' * MAX_TYPE_DEPTH} -> a", False),
    (f"q: {'Optional[' * (MAX_TYPE_DEPTH - 1)}int{']' * (MAX_TYPE_DEPTH - 1)} -> a", True),
    (f"q: {'Union[' * MAX_TYPE_DEPTH}int{']' * MAX_TYPE_DEPTH} -> a", True),
    (f"q: {'Union[' * (MAX_TYPE_DEPTH + 1)}int{']' * (MAX_TYPE_DEPTH + 1)} -> a", False),
    ("q: " + "list[" * 3000 + "int" + "]" * 3000 + " -> a", False),  # over the length limit too
    ("q: " + "Union[" * 600 + "int" + "]" * 600 + " -> a", False),
    ("q: int" + "[]" * 2000 + " -> a", False),
    ("q: 😀" + "x" * (MAX_SIGNATURE_LENGTH - 5) + " -> a", False),  # 2 UTF-16 units
]


@pytest.mark.parametrize(("text", "ok"), LIMIT_CASES, ids=[f"limit-{i}" for i in range(len(LIMIT_CASES))])
def test_limits_hold_without_deep_recursion(text: str, ok: bool) -> None:
    assert verdict(text)["ok"] is ok


def test_type_text_has_the_same_limits() -> None:
    assert parse_type_text(_nested(MAX_TYPE_DEPTH))
    with pytest.raises(SignatureParseError):
        parse_type_text(_nested(MAX_TYPE_DEPTH + 1))
    with pytest.raises(SignatureParseError):
        parse_type_text("int | " * 1000 + "str")


# --- registered types ----------------------------------------------------------------------------------


def test_registered_types_are_the_only_names_beyond_the_grammar() -> None:
    from pydantic import BaseModel

    class Address(BaseModel):
        street: str
        city: str

    with pytest.raises(BadRequest):
        build_signature("q -> a: Address", None)
    register_type("Address", Address)
    try:
        sig = build_signature("q: list[Address] -> a: Optional[Address]", None)
        assert sig.input_fields["q"].annotation == list[Address]
        assert sig.output_fields["a"].annotation == typing.Optional[Address]  # noqa: UP045
        with pytest.raises(BadRequest):
            build_signature("q -> a: Address.__class__", None)
    finally:
        unregister_type("Address")
    with pytest.raises(BadRequest):
        build_signature("q -> a: Address", None)
    for bad in ("str", "list", "None", "class", "_x", "os.environ", "Литерал"):
        with pytest.raises(ValueError):
            register_type(bad, Address)
    with pytest.raises(ValueError):
        register_type("Pattern", typing.Pattern)  # type: ignore[arg-type]


# --- parity with the TS engine, generated ---------------------------------------------------------------


class Oracle:
    def __init__(self) -> None:
        tsx = ROOT / "node_modules" / ".bin" / "tsx"
        self.proc = subprocess.Popen([str(tsx), str(ROOT / "test" / "harness" / "signature-oracle.ts")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT, text=True,
                                     encoding="utf-8")

    def __call__(self, text: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(text) + "\n")
        self.proc.stdin.flush()
        return dict(json.loads(self.proc.stdout.readline()))

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(10)


@pytest.fixture(scope="module")
def ts_engine() -> Iterator[Oracle]:
    if shutil.which("node") is None or not (ROOT / "node_modules" / ".bin" / "tsx").exists():
        pytest.skip("node and the repo's node_modules (npm ci) are needed to run the TS engine")
    oracle = Oracle()
    assert oracle("q -> a")["ok"] is True
    yield oracle
    oracle.close()


GOOD_NAMES = ("q", "a", "question", "answer", "x1", "items", "json", "str", "list", "b", "c", "d", "e")
BAD_NAMES = ("class", "None", "True", "_x", "fields", "instructions", "model_config", "1a", "café", *PROTOTYPE_NAMES)
NAMES = GOOD_NAMES + BAD_NAMES
GOOD_TYPES = ("str", "string", "int", "float", "number", "bool", "boolean", "Any", "any", "list", "List", "dict",
              "Dict")
BAD_TYPES = ("None", "Optional", "Union", "Literal", "tuple", "bytes", "os", "typing", "True", "False", "set",
             "NoneType", "ImportString", *PROTOTYPE_NAMES)
TYPE_WORDS = GOOD_TYPES + BAD_TYPES
PIECES = (":", ",", "|", "[", "]", "[]", "->", "-", ".", "(", ")", "=", "*", "#", "'a'", '"b"', "'it\\'s'",
          "'\\n'", "'\\x'", "'->'", "'", "0", "12", "1.5", "2.0", "0.00001", "1a", " ", "\t", "\n", "\x0b",
          "\u00a0", "é", "😀", "ｉｎｔ", "\u200b", "\\")


@st.composite
def types_(draw: st.DrawFn, depth: int = 0) -> str:
    """A mostly valid type expression (every constructor of the grammar, and some near misses)."""
    if depth > 3 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(TYPE_WORDS) if draw(st.integers(0, 4)) == 0 else st.sampled_from(GOOD_TYPES))
    inner = types_(depth + 1)
    kind = draw(st.integers(0, 8))
    if kind == 0:
        return f"list[{draw(inner)}]"
    if kind == 1:
        return f"dict[{draw(st.sampled_from(('str', 'string', 'int')))}, {draw(inner)}]"
    if kind == 2:
        return f"Optional[{draw(inner)}]"
    if kind == 3:
        return f"Union[{', '.join(draw(st.lists(inner, min_size=1, max_size=3)))}]"
    if kind == 4:
        values = st.sampled_from(("'a'", '"b"', "1", "2.5", "1.0", "True", "False", "None", "-1", "'x\\'y'",
                                  "0.00001", "'😀'", "'\\n'", "'\u2028'"))
        return f"Literal[{', '.join(draw(st.lists(values, min_size=1, max_size=3)))}]"
    if kind == 5:
        return f"{draw(inner)} | {draw(inner)}"
    if kind == 6:
        return f"{draw(inner)}[]"
    if kind == 7:
        return f"{draw(inner)}.{draw(st.sampled_from(('environ', 'List', 'x')))}"
    return f"{draw(st.sampled_from(TYPE_WORDS))}[{draw(inner)}]"


@st.composite
def near_miss_signatures(draw: st.DrawFn) -> str:
    names = iter(draw(st.lists(st.sampled_from(GOOD_NAMES), unique=True, min_size=6, max_size=6)))

    def side() -> list[str]:
        fields = []
        for _ in range(draw(st.integers(0, 3))):
            name = draw(st.sampled_from(BAD_NAMES)) if draw(st.integers(0, 6)) == 0 else next(names)
            fields.append(f"{name}: {draw(types_())}" if draw(st.booleans()) else name)
        return fields

    text = f"{', '.join(side())} -> {', '.join(side())}"
    # Mutate: insert, delete or replace a piece at a random place.
    for _ in range(draw(st.sampled_from((0, 0, 0, 1, 2)))):
        at = draw(st.integers(0, len(text)))
        op = draw(st.integers(0, 2))
        piece = draw(st.sampled_from(PIECES))
        if op == 0:
            text = text[:at] + piece + text[at:]
        elif op == 1:
            text = text[:at] + text[at + draw(st.integers(1, 4)):]
        else:
            text = text[:at] + piece + text[at + len(piece):]
    return text


soup = st.lists(st.sampled_from((*PIECES, *NAMES, *TYPE_WORDS)), max_size=12).map(" ".join)

ALLOWED_SCALARS = (str, int, float, bool, typing.Any, type(None))


def only_allowed(ann: Any) -> bool:
    """Whether an annotation is built from the grammar's types only."""
    if ann in ALLOWED_SCALARS:
        return True
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is typing.Literal:
        return all(v is None or type(v) in (str, int, float, bool) for v in args)
    if origin is list:
        return len(args) == 1 and only_allowed(args[0])
    if origin is dict:
        return len(args) == 2 and args[0] is str and only_allowed(args[1])
    if origin in (typing.Union, types.UnionType):
        return all(only_allowed(a) for a in args)
    return False


PARITY = settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@PARITY
@given(text=st.one_of(near_miss_signatures(), soup, hostile_signatures()))
def test_python_and_typescript_agree_on_generated_signatures(ts_engine: Oracle, text: str) -> None:
    ts = ts_engine(text)
    assert "crash" not in ts, f"the TS engine threw a non-parse error on {text!r}: {ts['crash']}"
    py = verdict(text)
    if ts["ok"]:
        assert py == ts, text
    else:
        assert py["ok"] is False, (text, py)
        assert py["column"] == ts["column"], (text, py, ts)
    if py["ok"] and verdict(text)["outputs"]:
        sig = build_signature(text, None)
        for field in sig.fields.values():
            assert only_allowed(field.annotation), (text, field.annotation)


@st.composite
def at_the_limits(draw: st.DrawFn) -> str:
    """Signatures around each limit: nesting, field count, text length (with astral characters)."""
    kind = draw(st.integers(0, 2))
    if kind == 0:
        depth = draw(st.integers(MAX_TYPE_DEPTH - 2, MAX_TYPE_DEPTH + 2))
        wrappers = draw(st.lists(st.sampled_from(("list[", "List[", "Optional[", "Union[", "dict[str, ", "[]")),
                                 min_size=depth, max_size=depth))
        text = "int"
        for w in wrappers:
            text = f"{text}[]" if w == "[]" else f"{w}{text}]"
        return f"q: {text} -> a" if draw(st.booleans()) else f"q -> a: {text} | None"
    if kind == 1:
        n = draw(st.integers(MAX_SIGNATURE_FIELDS - 2, MAX_SIGNATURE_FIELDS + 2))
        split = draw(st.integers(0, n - 1))
        names = [f"f{i}" for i in range(n)]
        return f"{', '.join(names[:split])} -> {', '.join(names[split:])}"
    pad = draw(st.integers(MAX_SIGNATURE_LENGTH - 12, MAX_SIGNATURE_LENGTH + 2))
    filler = draw(st.sampled_from(("x", "😀", "é")))
    body = "q -> a: Literal['" + filler * pad
    return body[: max(pad, 0)] + "']" if filler == "x" else body + "']"


@settings(max_examples=80, deadline=None, derandomize=True)
@given(text=at_the_limits())
def test_python_and_typescript_have_the_same_limits(ts_engine: Oracle, text: str) -> None:
    ts = ts_engine(text)
    assert "crash" not in ts, ts
    py = verdict(text)
    assert py["ok"] is ts["ok"], (text[:80], py, ts)
    assert py == ts if ts["ok"] else py["column"] == ts["column"], (text[:80], py, ts)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_any_text_is_parsed_or_refused_with_a_parse_error(ts_engine: Oracle, text: str) -> None:
    ts = ts_engine(text)
    assert "crash" not in ts, (text, ts)
    py = verdict(text)
    assert py["ok"] is ts["ok"], (text, py, ts)
    if not py["ok"]:
        assert py["column"] == ts["column"], (text, py, ts)


def test_ts_engine_refuses_names_of_javascript_prototypes(ts_engine: Oracle) -> None:
    for name in PROTOTYPE_NAMES:
        assert ts_engine(f"q: {name} -> a") == verdict(f"q: {name} -> a")
        assert ts_engine(f"q: {name} -> a")["ok"] is False


def test_cases_fixture_is_loaded() -> None:
    assert len(CASES) >= 60
