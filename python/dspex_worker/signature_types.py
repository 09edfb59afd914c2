"""The parsed form of a signature: field specs and a closed tree of field types.

Mirrors ``src/signature/types.ts``, ``format.ts``, ``names.ts`` and ``refusals.ts``: the same type
kinds, the same canonical spelling (``format_type``, what the node sends and the parity fixtures
record), the same field-name rules, refusal codes and limits. A type is data here, never a Python
object looked up by name; :mod:`dspex_worker.signatures` turns a tree into annotations.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, TypeAlias

# Limits shared with the TypeScript engine (src/signature/types.ts); docs/signatures.md lists them.
MAX_SIGNATURE_LENGTH = 4096
"""Longest signature (or type) text, in UTF-16 code units as JavaScript counts ``length``."""
MAX_SIGNATURE_FIELDS = 64
"""Most fields, inputs and outputs together."""
MAX_TYPE_DEPTH = 10
"""Deepest type (``list[list[int]]`` is 3 deep) and most type brackets open at once."""
MAX_SAFE_LITERAL = 2**53 - 1
"""Largest integer magnitude in ``Literal[...]``: what a JSON (IEEE double) number holds exactly."""


class Refusal:
    """Codes of the deliberate refusals (``src/signature/refusals.ts``; reasons in docs/signatures.md)."""

    UNKNOWN_TYPE = "unknown-type"
    DOTTED_NAME = "dotted-name"
    DSPY_TYPE = "dspy-type"
    NONE_TYPE = "none-type"
    DICT_KEY = "dict-key"
    DUPLICATE_FIELD = "duplicate-field"
    DEFAULT_VALUE = "default-value"
    STAR_PARAMETER = "star-parameter"
    NOT_NFKC = "not-nfkc"
    UNSAFE_INTEGER = "unsafe-integer"
    NOT_JSON = "not-json"
    FORWARD_REFERENCE = "forward-reference"
    LITERAL_VALUE = "literal-value"
    ESCAPE = "escape"
    TYPE_ARGUMENTS = "type-arguments"
    SET_ITEM = "set-item"
    DSPY_PLACEMENT = "dspy-placement"
    CODE_LANGUAGE = "code-language"
    LIMIT = "limit"


REFUSALS = frozenset(v for k, v in vars(Refusal).items() if k.isupper())

LiteralValue: TypeAlias = "str | int | float | bool | None"
ScalarKind: TypeAlias = Literal["str", "int", "float", "bool", "any"]
DSPY_TYPES = ("Image", "Audio", "File", "History", "Tool", "ToolCalls", "Code", "Reasoning")
"""DSPy's own types a signature may name as ``dspy.<Name>``."""


@dataclass(frozen=True)
class Scalar:
    kind: ScalarKind


@dataclass(frozen=True)
class ListOf:
    item: TypeNode


@dataclass(frozen=True)
class SetOf:
    """``set[item]``: a JSON array of distinct items on the wire."""

    item: TypeNode


@dataclass(frozen=True)
class TupleOf:
    """``tuple[a, b]`` (fixed length) or, when ``variadic``, ``tuple[item, ...]``: a JSON array."""

    items: tuple[TypeNode, ...]
    variadic: bool


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
class DspyType:
    """``dspy.Image``, …; ``language`` only for ``dspy.Code['<language>']``."""

    name: str
    language: str | None = None


@dataclass(frozen=True)
class Named:
    """A type the worker's operator registered by name (``signatures.register_type``)."""

    name: str


TypeNode: TypeAlias = "Scalar | ListOf | SetOf | TupleOf | DictOf | OptionalOf | LiteralOf | UnionOf | DspyType | Named"

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
    "str", "Text", "string", "int", "float", "number", "bool", "boolean", "Any", "any", "None", "True", "False",
    "list", "List", "set", "Set", "tuple", "Tuple", "dict", "Dict", "Optional", "Union", "Literal", "NoneType",
    "typing", "dspy",
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


def ident_start(c: str) -> bool:
    """Whether ``c`` may begin an identifier (ASCII, or Python's XID_Start)."""
    if c < "\x80":
        return ("A" <= c <= "Z") or ("a" <= c <= "z") or c == "_"
    return not "\ud800" <= c <= "\udfff" and c.isidentifier()


def ident_continue(c: str) -> bool:
    """Whether ``c`` may continue an identifier (ASCII, or Python's XID_Continue)."""
    if c < "\x80":
        return ("A" <= c <= "Z") or ("a" <= c <= "z") or ("0" <= c <= "9") or c == "_"
    return not "\ud800" <= c <= "\udfff" and ("a" + c).isidentifier()


def nfkc_problem(name: str) -> str | None:
    """What an identifier that NFKC changes should be written as, or None when it is in NFKC form."""
    normal = unicodedata.normalize("NFKC", name)
    if normal == name:
        return None
    return f"an identifier in NFKC form (Python reads '{name}' as '{normal}'; write '{normal}')"


def field_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a field name (what was expected instead), or None when it can."""
    if not name or not ident_start(name[0]) or not all(ident_continue(c) for c in name[1:]):
        return "an identifier"
    nfkc = nfkc_problem(name)
    if nfkc is not None:
        return nfkc
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
    """How deep a type nests: 1 for a scalar, Literal or DSPy type, +1 per list, set, tuple, dict or Optional."""
    if isinstance(node, ListOf | SetOf):
        return 1 + type_depth(node.item)
    if isinstance(node, TupleOf):
        return 1 + max((type_depth(t) for t in node.items), default=0)
    if isinstance(node, DictOf):
        return 1 + type_depth(node.value)
    if isinstance(node, OptionalOf):
        return 1 + type_depth(node.inner)
    if isinstance(node, UnionOf):
        return max(type_depth(m) for m in node.members)
    return 1


def contains_dspy(node: TypeNode, name: str | None = None) -> bool:
    """Whether ``node`` is or contains the DSPy type ``name`` (any DSPy type when ``name`` is None)."""
    if isinstance(node, DspyType):
        return name is None or node.name == name
    if isinstance(node, ListOf | SetOf):
        return contains_dspy(node.item, name)
    if isinstance(node, TupleOf):
        return any(contains_dspy(t, name) for t in node.items)
    if isinstance(node, DictOf):
        return contains_dspy(node.value, name)
    if isinstance(node, OptionalOf):
        return contains_dspy(node.inner, name)
    if isinstance(node, UnionOf):
        return any(contains_dspy(t, name) for t in node.members)
    return False


def format_type(node: TypeNode) -> str:
    """The canonical Python spelling (what ``Signature.toString()`` prints and the fixtures record)."""
    if isinstance(node, Scalar):
        return "Any" if node.kind == "any" else node.kind
    if isinstance(node, ListOf):
        return f"list[{format_type(node.item)}]"
    if isinstance(node, SetOf):
        return f"set[{format_type(node.item)}]"
    if isinstance(node, TupleOf):
        if node.variadic:
            return f"tuple[{format_type(node.items[0])}, ...]"
        return f"tuple[{', '.join(format_type(t) for t in node.items)}]"
    if isinstance(node, DictOf):
        return f"dict[str, {format_type(node.value)}]"
    if isinstance(node, OptionalOf):
        return f"Optional[{format_type(node.inner)}]"
    if isinstance(node, LiteralOf):
        return f"Literal[{', '.join(format_literal(v) for v in node.values)}]"
    if isinstance(node, UnionOf):
        return f"Union[{', '.join(format_type(m) for m in node.members)}]"
    if isinstance(node, DspyType):
        return f"dspy.{node.name}" if node.language is None else f"dspy.{node.name}[{format_literal(node.language)}]"
    return node.name


def format_signature(inputs: tuple[FieldSpec, ...], outputs: tuple[FieldSpec, ...]) -> str:
    """The canonical text of a signature, as the TS engine's ``formatSignature`` prints it."""

    def side(fields: tuple[FieldSpec, ...]) -> str:
        return ", ".join(f.name if f.type == STR else f"{f.name}: {f.type_text}" for f in fields)

    return " ".join(s for s in (side(inputs), "->", side(outputs)) if s)


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


def js_exponential(value: float) -> str:
    """JavaScript's ``n.toExponential()``: the shortest digits that read back, as ``d.ddde+N``."""
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    power = exponent + len(text) - 1
    mantissa = text[0] + (f".{text[1:]}" if len(text) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}e{'+' if power >= 0 else '-'}{abs(power)}"


def format_number(value: int | float) -> str:
    """A safe integer in decimal, a larger whole number in exponent form (it reads back as a float)."""
    if isinstance(value, int):
        return str(value)
    if value.is_integer():
        return str(int(value)) if abs(value) <= MAX_SAFE_LITERAL else js_exponential(value)
    return js_number(value)


def format_literal(value: LiteralValue) -> str:
    """A literal value in Python syntax, exactly as the TS engine's ``formatLiteral`` writes it.

    Strings take Python's quote choice; backslash, the quote, ``\\n`` ``\\r`` ``\\t``, every other C0
    and C1 control character and DEL (``\\x00``), U+2028/U+2029, and a ``>`` after a ``-`` (``\\x3e``: a
    signature has exactly one ``->``, strings included) are escaped; nothing else is.
    """
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | float):
        return format_number(value)
    quote = '"' if "'" in value and '"' not in value else "'"
    out = [quote]
    previous = ""
    for ch in value:
        cp = ord(ch)
        after, previous = previous, ch
        if ch == ">" and after == "-":
            out.append("\\x3e")
        elif ch == "\\":
            out.append("\\\\")
        elif ch == quote:
            out.append("\\" + quote)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif cp < 0x20 or 0x7F <= cp <= 0x9F:
            out.append(f"\\x{cp:02x}")
        elif cp in (0x2028, 0x2029):
            out.append(f"\\u{cp:04x}")
        else:
            out.append(ch)
    out.append(quote)
    return "".join(out)
