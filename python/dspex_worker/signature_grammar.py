"""An allow-list parser for signature strings: the TypeScript engine's grammar, in Python.

A line-for-line mirror of ``src/signature/parser.ts`` (tokens: :mod:`.signature_tokens`)::

    signature := fields '->' fields
    fields    := [field (',' field)* [',']]
    field     := name [':' type]
    type      := postfix ('|' postfix)*
    postfix   := primary ('[' ']')*
    primary   := scalar | None | list['[' type ']'] | dict['[' str ',' type ']'] | Optional '[' type ']'
               | Union '[' type (',' type)* ']' | Literal '[' value (',' value)* ']' | registered name

Nothing here imports, evaluates or looks up a name: a type is one of the words above or a name the
worker's operator registered (passed in as ``names``); anything else is a :class:`SignatureParseError`
with the same 1-based column (counted in UTF-16 code units, as JavaScript does) the node reports.
The limits (text length, fields, nesting) are the TS engine's, from :mod:`.signature_types`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from . import type_registry
from .errors import BadRequest
from .signature_tokens import Columns, SignatureParseError, Token, tokenize, utf16_length
from .signature_types import (
    ANY,
    BOOL,
    FLOAT,
    INT,
    MAX_SIGNATURE_FIELDS,
    MAX_SIGNATURE_LENGTH,
    MAX_TYPE_DEPTH,
    STR,
    DictOf,
    FieldSpec,
    ListOf,
    LiteralOf,
    LiteralValue,
    Named,
    ParsedSignature,
    TypeNode,
    field_name_problem,
    format_literal,
    literal_equal,
    make_union,
    type_depth,
)

SCALARS: Mapping[str, TypeNode] = {
    "str": STR, "string": STR, "int": INT, "float": FLOAT, "number": FLOAT,
    "bool": BOOL, "boolean": BOOL, "Any": ANY, "any": ANY,
}
PYTHON_CONSTANTS: Mapping[str, LiteralValue] = {"True": True, "False": False, "None": None}

TYPE_EXPECTED = "a type (str, int, float, bool, Any, list[...], dict[str, ...], Optional[...], Literal[...])"


class _Parser:
    def __init__(self, tokens: list[Token], names: Collection[str]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.names = names
        self.open_brackets = 0

    @property
    def peek(self) -> Token:
        return self.tokens[self.pos]

    def next(self) -> Token:
        token = self.peek
        if token.kind != "eof":
            self.pos += 1
        return token

    def fail(self, token: Token, expected: str) -> SignatureParseError:
        """The error to raise at ``token`` (raise it: ``raise self.fail(...)``)."""
        if token.error is not None:
            return token.error
        if token.kind == "eof":
            found = "end of signature"
        elif token.kind == "string":
            found = f"the string {format_literal(token.text)}"
        else:
            found = f"'{token.text}'"
        return SignatureParseError(token.column, expected,
                                   f"signature column {token.column}: expected {expected}, found {found}")

    def expect(self, kind: str, expected: str) -> Token:
        if self.peek.kind != kind:
            raise self.fail(self.peek, expected)
        return self.next()

    def enter(self, bracket: Token) -> None:
        """A type bracket was opened: bounds the recursion (``Union[Union[...]]`` nests no type)."""
        self.open_brackets += 1
        if self.open_brackets > MAX_TYPE_DEPTH:
            raise self.fail(bracket, f"at most {MAX_TYPE_DEPTH} nested type brackets")

    def leave(self) -> None:
        self.open_brackets -= 1

    def signature(self) -> tuple[list[FieldSpec], list[FieldSpec]]:
        seen: dict[str, str] = {}
        inputs = self.fields("input", "arrow", seen)
        self.expect("arrow", "',' or '->'")
        outputs = self.fields("output", "eof", seen)
        return inputs, outputs

    def fields(self, role: str, end: str, seen: dict[str, str]) -> list[FieldSpec]:
        fields: list[FieldSpec] = []
        after = "',' or '->'" if end == "arrow" else "',' or end of signature"
        while self.peek.kind != end:
            name = self.peek
            if name.kind != "ident":
                raise self.fail(name, "a field name")
            self.next()
            problem = field_name_problem(name.text)
            if problem is not None:
                raise self.fail(name, problem)
            previous = seen.get(name.text)
            if previous is not None:
                raise self.fail(name, f"a field name not already used (it is an {previous} already)")
            if len(seen) >= MAX_SIGNATURE_FIELDS:
                raise self.fail(name, f"at most {MAX_SIGNATURE_FIELDS} fields")
            seen[name.text] = role
            type_: TypeNode = STR
            typed = self.peek.kind == "colon"
            if typed:
                self.next()
                type_ = self.field_type()
            fields.append(FieldSpec(name.text, "input" if role == "input" else "output", type_, typed))
            if self.peek.kind == "comma":
                self.next()
            elif self.peek.kind != end:
                raise self.fail(self.peek, after)
        return fields

    def field_type(self) -> TypeNode:
        """A type that must not be a bare ``None``, nested at most MAX_TYPE_DEPTH deep."""
        start = self.peek
        type_ = self.union()
        if type_ is None:
            raise self.fail(start, f"{TYPE_EXPECTED} other than None")
        if type_depth(type_) > MAX_TYPE_DEPTH:
            raise self.fail(start, f"a type nested at most {MAX_TYPE_DEPTH} deep")
        return type_

    def union(self) -> TypeNode | None:
        members = [self.postfix()]
        while self.peek.kind == "pipe":
            self.next()
            members.append(self.postfix())
        return members[0] if len(members) == 1 else make_union(members)

    def postfix(self) -> TypeNode | None:
        start = self.peek
        type_ = self.primary()
        depth = 0 if type_ is None else type_depth(type_)
        while self.peek.kind == "lbracket":
            if type_ is None:
                raise self.fail(start, TYPE_EXPECTED)
            bracket = self.next()
            self.expect("rbracket", "']' (only 'T[]' may follow a complete type)")
            type_ = ListOf(type_)
            depth += 1
            if depth > MAX_TYPE_DEPTH:
                raise self.fail(bracket, f"a type nested at most {MAX_TYPE_DEPTH} deep")
        return type_

    def primary(self) -> TypeNode | None:
        token = self.peek
        if token.kind != "ident":
            raise self.fail(token, TYPE_EXPECTED)
        self.next()
        scalar = SCALARS.get(token.text)
        if scalar is not None:
            return scalar
        match token.text:
            case "None":
                return None
            case "list" | "List":
                if not self.subscripted():
                    return ListOf(ANY)
                item = self.close_with(self.field_type(), "list")
                self.leave()
                return ListOf(item)
            case "dict" | "Dict":
                if not self.subscripted():
                    return DictOf(ANY)
                value = self.dict_args()
                self.leave()
                return DictOf(value)
            case "Optional":
                self.enter(self.expect("lbracket", "'[' after Optional"))
                inner = self.close_with(self.field_type(), "Optional")
                self.leave()
                return make_union([inner, None])
            case "Union":
                return self.union_args()
            case "Literal":
                return self.literal_args()
        if token.text in self.names:
            return Named(token.text)
        raise self.fail(token, TYPE_EXPECTED)

    def subscripted(self) -> bool:
        if self.peek.kind != "lbracket":
            return False
        # `list[]` is the TypeScript-style postfix on a bare `list`, which DSPy rejects too.
        following = self.tokens[self.pos + 1]
        if following.kind == "rbracket":
            raise self.fail(following, "a type")
        self.enter(self.next())
        return True

    def close_with(self, type_: TypeNode, what: str) -> TypeNode:
        self.expect("rbracket", f"']' ({what} takes one type)")
        return type_

    def dict_args(self) -> TypeNode:
        key_token = self.peek
        key = self.field_type()
        if key != STR:
            raise self.fail(key_token, "str as the dict key type (JSON object keys are strings)")
        self.expect("comma", "',' and the dict value type")
        return self.close_with(self.field_type(), "dict")

    def union_args(self) -> TypeNode:
        self.enter(self.expect("lbracket", "'[' after Union"))
        start = self.peek
        members = [self.union()]
        while self.peek.kind == "comma":
            self.next()
            members.append(self.union())
        self.expect("rbracket", "',' or ']'")
        self.leave()
        result = make_union(members)
        if result is None:
            raise self.fail(start, f"{TYPE_EXPECTED} other than None")
        return result

    def literal_args(self) -> TypeNode:
        self.enter(self.expect("lbracket", "'[' after Literal"))
        values: list[LiteralValue] = []
        while True:
            value = self.literal_value()
            # typing.Literal drops repeated values (JavaScript's ===: 1 and 1.0 are one value).
            if not any(literal_equal(v, value) for v in values):
                values.append(value)
            if self.peek.kind != "comma":
                break
            self.next()
        self.expect("rbracket", "',' or ']'")
        self.leave()
        return LiteralOf(tuple(values))

    def literal_value(self) -> LiteralValue:
        token = self.next()
        if token.kind == "string":
            return token.text
        if token.kind == "number":
            return float(token.text) if "." in token.text else int(token.text)
        if token.kind == "ident" and token.text in PYTHON_CONSTANTS:
            return PYTHON_CONSTANTS[token.text]
        if token.kind == "minus":
            raise self.fail(token, "a literal value (DSPy cannot parse negative numbers in Literal)")
        raise self.fail(token, "a literal value (a quoted string, a number, True, False or None)")


def _check_length(text: str) -> None:
    if len(text) > MAX_SIGNATURE_LENGTH or utf16_length(text) > MAX_SIGNATURE_LENGTH:
        raise SignatureParseError(
            MAX_SIGNATURE_LENGTH + 1, f"at most {MAX_SIGNATURE_LENGTH} characters",
            f"signature: expected at most {MAX_SIGNATURE_LENGTH} characters, found {utf16_length(text)}",
        )


def _check_arrows(text: str, cols: Columns) -> None:
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


def parse_signature_text(text: str, names: Collection[str] = ()) -> ParsedSignature:
    """Parse a signature string; ``names`` are the registered type names it may use.

    Raises :class:`SignatureParseError` with the column and what was expected there.
    """
    _check_length(text)
    cols = Columns(text)
    _check_arrows(text, cols)
    inputs, outputs = _Parser(tokenize(text, cols), names).signature()
    return ParsedSignature(text, tuple(inputs), tuple(outputs))


def parse_type_text(text: str, names: Collection[str] = ()) -> TypeNode:
    """Parse one type, e.g. ``list[str]`` or ``number[]``."""
    _check_length(text)
    parser = _Parser(tokenize(text), names)
    type_ = parser.field_type()
    parser.expect("eof", "'|' or end of type")
    return type_


def check_signature(text: str, field: str = "signature") -> ParsedSignature:
    """A signature from a request, with the registered type names; BadRequest naming ``field`` otherwise.

    The error's details carry the parser's ``column`` and ``expected``. A signature without an output
    field is refused too (no module can run it).
    """
    try:
        parsed = parse_signature_text(text, type_registry.registered_types())
    except SignatureParseError as err:
        raise _bad(field, err) from None
    if not parsed.outputs:
        raise BadRequest(f"{field}: expected at least one output field", details={"field": field})
    return parsed


def check_type_text(text: str, field: str) -> TypeNode:
    """One type from a request (a variable's ``spec.type``); BadRequest naming ``field`` otherwise."""
    try:
        return parse_type_text(text, type_registry.registered_types())
    except SignatureParseError as err:
        raise _bad(field, err) from None


def _bad(field: str, err: SignatureParseError) -> BadRequest:
    text = str(err)  # the parser's messages start with "signature"
    return BadRequest(text if text.startswith(field) else f"{field}: {text}",
                      details={"field": field, "column": err.column, "expected": err.expected})
