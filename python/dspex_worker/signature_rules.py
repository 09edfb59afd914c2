"""The rules of the signature grammar that are not parsing itself: a mirror of ``src/signature/rules.ts``.

The words of the grammar, where DSPy's types may stand, which set items are allowed, and the checks on
the whole text (length, exactly one ``->``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .signature_literals import SignatureParseError
from .signature_tokens import Columns, utf16_length
from .signature_types import (
    ANY,
    BOOL,
    FLOAT,
    INT,
    MAX_SIGNATURE_LENGTH,
    STR,
    DictOf,
    DspyType,
    ListOf,
    LiteralValue,
    OptionalOf,
    Refusal,
    SetOf,
    TupleOf,
    TypeNode,
    UnionOf,
    contains_dspy,
)

SCALARS: Mapping[str, TypeNode] = {
    "str": STR, "Text": STR, "string": STR, "int": INT, "float": FLOAT, "number": FLOAT,
    "bool": BOOL, "boolean": BOOL, "Any": ANY, "any": ANY,
}
TYPING_WORDS = frozenset(("Any", "Text", "List", "Dict", "Tuple", "Set", "Optional", "Union", "Literal"))
PYTHON_CONSTANTS: Mapping[str, LiteralValue] = {"True": True, "False": False, "None": None}
CODE_LANGUAGE = re.compile(r"[A-Za-z0-9_+#.-]{1,32}", re.ASCII)

TYPE_EXPECTED = ("a type (str, int, float, bool, Any, list[...], dict[str, ...], tuple[...], set[...], Optional[...], "
                 "Literal[...], dspy.<Type>)")


def placement_problem(type_: TypeNode, role: str, history_seen: bool) -> str | None:
    """Why a type cannot be where it is in a field of ``role`` (and ``history_seen``), or None."""
    if contains_dspy(type_, "History"):
        if role != "input" or not isinstance(type_, DspyType):
            return "dspy.History only as the whole type of an input field (DSPy formats that field as the conversation)"
        if history_seen:
            return "at most one dspy.History field"
    if role == "output" and contains_dspy(type_, "Tool"):
        return "no dspy.Tool in an output (a model answers with dspy.ToolCalls)"
    return None


def hashable(node: TypeNode) -> bool:
    if isinstance(node, TupleOf):
        return all(hashable(t) for t in node.items)
    if isinstance(node, OptionalOf):
        return hashable(node.inner)
    if isinstance(node, UnionOf):
        return all(hashable(t) for t in node.members)
    return not isinstance(node, ListOf | SetOf | DictOf | DspyType)


def check_length(text: str) -> None:
    if len(text) > MAX_SIGNATURE_LENGTH or utf16_length(text) > MAX_SIGNATURE_LENGTH:
        raise SignatureParseError(
            MAX_SIGNATURE_LENGTH + 1, f"at most {MAX_SIGNATURE_LENGTH} characters",
            f"signature: expected at most {MAX_SIGNATURE_LENGTH} characters, found {utf16_length(text)}",
            Refusal.LIMIT,
        )


def check_arrows(text: str, cols: Columns) -> None:
    """DSPy splits on '->' before anything else, so a second one anywhere (even in a string) is an error."""
    first = text.find("->")
    if first == -1:
        col = cols.at(len(text))
        raise SignatureParseError(
            col, "'->' between inputs and outputs",
            f"signature column {col}: expected '->' between inputs and outputs, found end of signature",
        )
    second = text.find("->", first + 2)
    if second != -1:
        col = cols.at(second)
        raise SignatureParseError(col, "exactly one '->'",
                                  f"signature column {col}: expected exactly one '->', found a second one")


