"""Issue 16: values are never changed silently; every accepted signature round-trips.

Trees of the grammar are generated directly (every type kind; literal values from the whole range
the grammar holds: any text without a lone surrogate, non-negative safe integers, any finite
non-negative double, ``True``, ``False``, ``None``), printed with ``format_signature`` and parsed back:
the parse must give the same tree, and print the same text again. The TS engine reads the same text to
the same canonical text (test/harness/signature-oracle.ts), so the canonical text is one fixed point in
both languages. The TS twin is test/unit/signature/roundtrip.test.ts.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dspex_worker.signature_grammar import parse_signature_text
from dspex_worker.signature_types import (
    ANY,
    BOOL,
    FLOAT,
    INT,
    MAX_SAFE_LITERAL,
    MAX_SIGNATURE_LENGTH,
    MAX_TYPE_DEPTH,
    STR,
    DictOf,
    DspyType,
    FieldSpec,
    ListOf,
    LiteralOf,
    LiteralValue,
    SetOf,
    TupleOf,
    TypeNode,
    format_literal,
    format_signature,
    literal_equal,
    make_union,
    type_depth,
)

from .test_signature_grammar import Oracle, ts_engine  # noqa: F401 - ts_engine is a fixture

texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=12) | st.sampled_from(
    ("->", "a->b", "-", ">", "'", '"', "'\"", "\\", "\x00", "\x85", "\u2028", "#", "\n", "\r\n", "😀", "ﬁ"))
numbers = st.integers(0, MAX_SAFE_LITERAL) | st.floats(min_value=0.0, allow_nan=False, allow_infinity=False).filter(
    lambda x: math.copysign(1.0, x) > 0) | st.sampled_from((1e-7, 1e21, 2.0**53, 1e308, 5e-324, 0.1, 9007199254740991))
literal_values = st.none() | st.booleans() | numbers | texts


def normal(value: LiteralValue) -> LiteralValue:
    """A value as the grammar holds it: JSON has one number type, so an integral double is an integer."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_SAFE_LITERAL:
        return int(value)
    return value


def literal(values: list[LiteralValue]) -> TypeNode:
    out: list[LiteralValue] = []
    for v in map(normal, values):
        if not any(literal_equal(v, w) for w in out):
            out.append(v)
    return LiteralOf(tuple(out))


scalars = st.sampled_from((STR, INT, FLOAT, BOOL, ANY))
dspy_types = st.sampled_from(("Image", "Audio", "File", "ToolCalls", "Code", "Reasoning")).map(DspyType) | (
    st.from_regex(r"[A-Za-z0-9_+#.-]{1,32}", fullmatch=True).map(lambda lang: DspyType("Code", lang)))
hashable_leaves = scalars | st.lists(literal_values, min_size=1, max_size=4).map(literal)


def _types(leaves: st.SearchStrategy[TypeNode]) -> st.SearchStrategy[TypeNode]:
    def extend(inner: st.SearchStrategy[TypeNode]) -> st.SearchStrategy[TypeNode]:
        return st.one_of(
            inner.map(ListOf),
            inner.map(DictOf),
            hashable_leaves.map(SetOf),
            st.lists(inner, min_size=1, max_size=3).map(lambda items: TupleOf(tuple(items), False)),
            inner.map(lambda t: TupleOf((t,), True)),
            inner.map(lambda t: make_union([t, None])),
            st.lists(inner, min_size=2, max_size=3).map(lambda ms: make_union(list(ms))),
        ).filter(lambda t: t is not None)  # type: ignore[arg-type, return-value]

    return st.recursive(leaves, extend, max_leaves=6)


types_ = _types(scalars | dspy_types | st.lists(literal_values, min_size=1, max_size=4).map(literal))
names = st.sampled_from(("q", "answer", "context", "items", "json", "str", "list", "Literal", "dspy", "typing",
                         "match", "type", "café", "名前", "über", "x1", "a", "b", "c", "d", "e", "f"))


@st.composite
def signatures(draw: st.DrawFn) -> tuple[list[tuple[str, TypeNode]], list[tuple[str, TypeNode]]]:
    chosen = draw(st.lists(names, unique=True, min_size=1, max_size=7))
    split = draw(st.integers(0, len(chosen) - 1))
    inputs = [(n, draw(types_)) for n in chosen[:split]]
    if inputs and draw(st.integers(0, 4)) == 0:
        inputs[0] = (inputs[0][0], DspyType("History"))
    if inputs and draw(st.integers(0, 4)) == 0:
        inputs[-1] = (inputs[-1][0], ListOf(DspyType("Tool")))
    outputs = [(n, draw(types_)) for n in chosen[split:]]
    return inputs, outputs


def specs(fields: list[tuple[str, TypeNode]], role: Any) -> tuple[FieldSpec, ...]:
    return tuple(FieldSpec(n, role, t) for n, t in fields)


ROUND_TRIP = settings(max_examples=1500, deadline=None, derandomize=True,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@ROUND_TRIP
@given(sig=signatures())
def test_every_tree_prints_a_text_that_parses_back_to_it(ts_engine: Oracle, sig: Any) -> None:  # noqa: F811
    inputs, outputs = specs(sig[0], "input"), specs(sig[1], "output")
    text = format_signature(inputs, outputs)
    assume(len(text) <= MAX_SIGNATURE_LENGTH and all(type_depth(f.type) <= MAX_TYPE_DEPTH for f in inputs + outputs))
    parsed = parse_signature_text(text)
    assert [(f.name, f.role, f.type) for f in (*parsed.inputs, *parsed.outputs)] == [
        (f.name, f.role, f.type) for f in (*inputs, *outputs)], text
    assert format_signature(parsed.inputs, parsed.outputs) == text
    ts = ts_engine(text)
    assert ts.get("canonical") == text, (text, ts)


@settings(max_examples=3000, deadline=None, derandomize=True)
@given(value=literal_values)
def test_every_literal_value_prints_as_python_reads_it(value: LiteralValue) -> None:
    """``format_literal`` is Python syntax for the value (what ``ast.literal_eval`` reads), one line."""
    import ast

    text = format_literal(value)
    assert "\n" not in text and "\r" not in text and "->" not in text
    assert normal(ast.literal_eval(text)) == normal(value)
