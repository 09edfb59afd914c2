"""The parsed form of a signature: field specs and a closed tree of field types.

Mirrors ``src/signature/types.ts``: the same type kinds, the same canonical spelling (``format_type``,
what the parity fixtures record), the same field-name rules and the same limits. A type is data here,
never a Python object looked up by name; :mod:`dspex_worker.signatures` turns a tree into annotations.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, TypeAlias

# Limits shared with the TypeScript engine (src/signature/types.ts); docs/security.md lists them.
MAX_SIGNATURE_LENGTH = 4096
"""Longest signature (or type) text, in UTF-16 code units as JavaScript counts ``length``."""
MAX_SIGNATURE_FIELDS = 64
"""Most fields, inputs and outputs together."""
MAX_TYPE_DEPTH = 10
"""Deepest type (``list[list[int]]`` is 3 deep) and most type brackets open at once."""

LiteralValue: TypeAlias = "str | int | float | bool | None"
ScalarKind: TypeAlias = Literal["str", "int", "float", "bool", "any"]


@dataclass(frozen=True)
class Scalar:
    kind: ScalarKind


@dataclass(frozen=True)
class ListOf:
    item: TypeNode


@dataclass(frozen=True)
class DictOf:
    """``dict[str, value]``: JSON object keys are strings, so only the value type is carried."""

    value: TypeNode


@dataclass(frozen=True)
class OptionalOf:
    inner: TypeNode


@dataclass(frozen=True)
class LiteralOf:
    values: tuple[LiteralValue, ...]


@dataclass(frozen=True)
class UnionOf:
    members: tuple[TypeNode, ...]


@dataclass(frozen=True)
class Named:
    """A type the worker's operator registered by name (``signatures.register_type``)."""

    name: str


TypeNode: TypeAlias = "Scalar | ListOf | DictOf | OptionalOf | LiteralOf | UnionOf | Named"

STR = Scalar("str")
INT = Scalar("int")
FLOAT = Scalar("float")
BOOL = Scalar("bool")
ANY = Scalar("any")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    role: Literal["input", "output"]
    type: TypeNode
    #: False when the text gave no type (DSPy marks such inputs ``IS_TYPE_UNDEFINED``).
    typed: bool = True

    @property
    def type_text(self) -> str:
        return format_type(self.type)


@dataclass(frozen=True)
class ParsedSignature:
    text: str
    inputs: tuple[FieldSpec, ...]
    outputs: tuple[FieldSpec, ...]


GRAMMAR_WORDS = frozenset((
    "str", "string", "int", "float", "number", "bool", "boolean", "Any", "any",
    "None", "True", "False", "list", "List", "dict", "Dict", "Optional", "Union", "Literal",
))
"""The words of the type grammar; a registered type may not take one of these names."""

# Python keywords (not the soft ones): `def f(class)` is a syntax error, so DSPy rejects them as names.
PYTHON_KEYWORDS = frozenset((
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def",
    "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is",
    "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
))
# Members of DSPy's Signature / pydantic's BaseModel that dspy 3.4.1 refuses as field names.
RESERVED_FIELD_NAMES = frozenset((
    "fields", "input_fields", "instructions", "model_config", "model_dump", "model_dump_json",
    "model_validate", "model_validate_json", "model_validate_strings", "output_fields", "signature",
))
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def field_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a field name (what was expected instead), or None when it can."""
    if not _IDENT.fullmatch(name):
        return "an ASCII identifier"
    if name.startswith("_"):
        return "a field name not starting with an underscore"
    if name in PYTHON_KEYWORDS:
        return f"a field name that is not a Python keyword ('{name}')"
    if name in RESERVED_FIELD_NAMES:
        return f"a field name DSPy does not reserve ('{name}')"
    return None


def literal_equal(a: LiteralValue, b: LiteralValue) -> bool:
    """JavaScript's ``===`` on literal values: ``1 == 1.0`` but ``True != 1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if a is None or b is None:
        return a is b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    return a == b


def make_union(members: list[TypeNode | None]) -> TypeNode | None:
    """A union as Python's ``typing`` builds it: flattened, deduplicated, ``None`` as Optional."""
    flat: list[TypeNode] = []
    seen: set[str] = set()
    has_none = False

    def add(node: TypeNode | None) -> None:
        nonlocal has_none
        if node is None:
            has_none = True
        elif isinstance(node, UnionOf):
            for member in node.members:
                add(member)
        elif isinstance(node, OptionalOf):
            has_none = True
            add(node.inner)
        else:
            key = format_type(node)
            if key not in seen:
                seen.add(key)
                flat.append(node)

    for m in members:
        add(m)
    if not flat:
        return None
    core = flat[0] if len(flat) == 1 else UnionOf(tuple(flat))
    return OptionalOf(core) if has_none else core


def type_depth(node: TypeNode) -> int:
    """How deep a type nests: 1 for a scalar or a Literal, +1 per list, dict or Optional around it."""
    if isinstance(node, ListOf):
        return 1 + type_depth(node.item)
    if isinstance(node, DictOf):
        return 1 + type_depth(node.value)
    if isinstance(node, OptionalOf):
        return 1 + type_depth(node.inner)
    if isinstance(node, UnionOf):
        return max(type_depth(m) for m in node.members)
    return 1


def format_type(node: TypeNode) -> str:
    """The canonical Python spelling (what ``Signature.toString()`` prints and the fixtures record)."""
    if isinstance(node, Scalar):
        return "Any" if node.kind == "any" else node.kind
    if isinstance(node, ListOf):
        return f"list[{format_type(node.item)}]"
    if isinstance(node, DictOf):
        return f"dict[str, {format_type(node.value)}]"
    if isinstance(node, OptionalOf):
        return f"Optional[{format_type(node.inner)}]"
    if isinstance(node, LiteralOf):
        return f"Literal[{', '.join(format_literal(v) for v in node.values)}]"
    if isinstance(node, UnionOf):
        return f"Union[{', '.join(format_type(m) for m in node.members)}]"
    return node.name


def js_number(value: float) -> str:
    """A float as JavaScript's ``String(n)`` writes it, so both sides print the same canonical type."""
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    power = int(exponent)
    if -7 < power < 21:
        return format(Decimal(text), "f")
    return f"{mantissa}e{'+' if power > 0 else '-'}{abs(power)}"


def format_literal(value: LiteralValue) -> str:
    """A literal value as Python's ``repr`` (and the TS engine's ``formatLiteral``) writes it."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return js_number(value)
    quote = '"' if "'" in value and '"' not in value else "'"
    out = [quote]
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == quote:
            out.append("\\" + quote)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        else:
            out.append(ch)
    out.append(quote)
    return "".join(out)
