"""An allow-list parser for signature strings: the TypeScript engine's grammar, in Python.

A line-for-line mirror of ``src/signature/parser.ts`` (tokens: :mod:`.signature_tokens`); the grammar
is written once, in EBNF, in docs/signatures.md. Nothing here imports, evaluates or looks up a name: a
type is a word of the grammar, ``dspy.<Type>``, ``typing.<word>``, or a name the worker's operator
registered (passed in as ``names``); anything else is a :class:`SignatureParseError` with the same
1-based column (counted in UTF-16 code units, as JavaScript does) and refusal code the node reports.
"""

from __future__ import annotations

from collections.abc import Collection

from . import type_registry
from .errors import BadRequest
from .signature_literals import number_value
from .signature_rules import (
    CODE_LANGUAGE,
    PYTHON_CONSTANTS,
    SCALARS,
    TYPE_EXPECTED,
    TYPING_WORDS,
    check_arrows,
    check_length,
    hashable,
    placement_problem,
)
from .signature_tokens import Columns, SignatureParseError, Token, tokenize
from .signature_types import (
    ANY,
    DSPY_TYPES,
    MAX_SIGNATURE_FIELDS,
    MAX_TYPE_DEPTH,
    STR,
    DictOf,
    DspyType,
    FieldSpec,
    ListOf,
    LiteralOf,
    LiteralValue,
    Named,
    ParsedSignature,
    Refusal,
    SetOf,
    TupleOf,
    TypeNode,
    contains_dspy,
    field_name_problem,
    format_literal,
    literal_equal,
    make_union,
    nfkc_problem,
    type_depth,
)

__all__ = ["TYPE_EXPECTED", "SignatureParseError", "check_signature", "check_type_text", "parse_signature_text",
           "parse_type_text", "placement_problem"]


class _Parser:
    def __init__(self, tokens: list[Token], names: Collection[str]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.names = names
        self.open_brackets = 0

    @property
    def peek(self) -> Token:
        return self.tokens[self.pos]

    def ahead(self, n: int = 1) -> Token:
        return self.tokens[min(self.pos + n, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.peek
        if token.kind != "eof":
            self.pos += 1
        return token

    def fail(self, token: Token, expected: str, refusal: str | None = None) -> SignatureParseError:
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
                                   f"signature column {token.column}: expected {expected}, found {found}", refusal)

    def expect(self, kind: str, expected: str) -> Token:
        if self.peek.kind != kind:
            raise self.fail(self.peek, expected)
        return self.next()

    def enter(self, bracket: Token) -> None:
        """A bracket or parenthesis was opened: bounds the recursion (``Union[Union[...]]`` nests no type)."""
        self.open_brackets += 1
        if self.open_brackets > MAX_TYPE_DEPTH:
            raise self.fail(bracket, f"at most {MAX_TYPE_DEPTH} nested type brackets", Refusal.LIMIT)

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
        history_seen = False
        while self.peek.kind != end:
            name = self.peek
            if name.kind in ("star", "slash"):
                raise self.fail(name, "a field name (no *args, **kwargs, * or / marker)", Refusal.STAR_PARAMETER)
            if name.kind != "ident":
                raise self.fail(name, "a field name")
            self.next()
            problem = field_name_problem(name.text)
            if problem is not None:
                raise self.fail(name, problem, Refusal.NOT_NFKC if problem == nfkc_problem(name.text) else None)
            previous = seen.get(name.text)
            if previous is not None:
                raise self.fail(name, f"a field name not already used (it is an {previous} already)",
                                Refusal.DUPLICATE_FIELD)
            if len(seen) >= MAX_SIGNATURE_FIELDS:
                raise self.fail(name, f"at most {MAX_SIGNATURE_FIELDS} fields", Refusal.LIMIT)
            seen[name.text] = role
            type_: TypeNode = STR
            typed = self.peek.kind == "colon"
            if typed:
                self.next()
                start = self.peek
                type_ = self.field_type()
                misplaced = placement_problem(type_, role, history_seen)
                if misplaced is not None:
                    raise self.fail(start, misplaced, Refusal.DSPY_PLACEMENT)
                history_seen = history_seen or contains_dspy(type_, "History")
            if self.peek.kind == "equals":
                raise self.fail(self.peek, f"{after} (no default values: DSPy ignores them)", Refusal.DEFAULT_VALUE)
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
            raise self.fail(start, f"{TYPE_EXPECTED} other than None", Refusal.NONE_TYPE)
        if type_depth(type_) > MAX_TYPE_DEPTH:
            raise self.fail(start, f"a type nested at most {MAX_TYPE_DEPTH} deep", Refusal.LIMIT)
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
                raise self.fail(bracket, f"a type nested at most {MAX_TYPE_DEPTH} deep", Refusal.LIMIT)
        return type_

    def primary(self) -> TypeNode | None:
        token = self.peek
        if token.kind == "lparen":
            return self.parenthesised()
        if token.kind == "string":
            raise self.fail(token, f"{TYPE_EXPECTED}, not a quoted name (a forward reference)",
                            Refusal.FORWARD_REFERENCE)
        if token.kind != "ident":
            raise self.fail(token, TYPE_EXPECTED)
        self.next()
        if self.peek.kind == "dot":
            return self.dotted(token)
        return self.word(token, token.text)

    def parenthesised(self) -> TypeNode | None:
        """``(T)`` is ``T``; ``()`` and ``(T, U)`` are tuples, which are no types."""
        open_ = self.next()
        if self.peek.kind == "rparen":
            raise self.fail(self.peek, f"{TYPE_EXPECTED} inside the parentheses", Refusal.TYPE_ARGUMENTS)
        self.enter(open_)
        inner = self.union()
        if self.peek.kind == "comma":
            raise self.fail(self.peek, "')' (a parenthesised tuple is not a type: write X[a, b])",
                            Refusal.TYPE_ARGUMENTS)
        self.expect("rparen", "')'")
        self.leave()
        return inner

    def dotted(self, first: Token) -> TypeNode | None:
        """``dspy.<Type>`` or ``typing.<word>``; any other dotted path is refused."""
        parts = [first.text]
        while self.peek.kind == "dot":
            self.next()
            part = self.peek
            if part.kind != "ident":
                raise self.fail(part, "a name after the dot")
            self.next()
            parts.append(part.text)
        if len(parts) == 2 and parts[0] == "typing" and parts[1] in TYPING_WORDS:
            return self.word(first, parts[1])
        if len(parts) == 2 and parts[0] == "dspy":
            if parts[1] in DSPY_TYPES:
                return self.dspy_type(parts[1])
            raise self.fail(first, f"one of the DSPy types dspy.{', dspy.'.join(DSPY_TYPES)}", Refusal.DSPY_TYPE)
        raise self.fail(first, f"{TYPE_EXPECTED}; of dotted names only dspy.<Type> and typing.<name>",
                        Refusal.DOTTED_NAME)

    def dspy_type(self, name: str) -> TypeNode:
        if name != "Code" or self.peek.kind != "lbracket":
            return DspyType(name)
        self.enter(self.next())
        language = self.peek
        if language.kind != "string" or language.prefix != "":
            raise self.fail(language, "the language as a quoted string, e.g. dspy.Code['python']")
        self.next()
        if not CODE_LANGUAGE.fullmatch(language.text):
            raise self.fail(language, "a language of 1-32 letters, digits, _ + # . or -", Refusal.CODE_LANGUAGE)
        self.close_args("dspy.Code takes one language")
        return DspyType(name, language.text)

    def word(self, token: Token, name: str) -> TypeNode | None:
        """A grammar word (``token`` is where it starts, for errors)."""
        scalar = SCALARS.get(name)
        if scalar is not None:
            return scalar
        match name:
            case "None":
                return None
            case "list" | "List":
                item = self.one_arg("list")
                return ListOf(ANY if item is None else item)
            case "set" | "Set":
                return self.set_args()
            case "dict" | "Dict":
                return self.dict_args()
            case "tuple" | "Tuple":
                return self.tuple_args()
            case "Optional":
                if self.peek.kind != "lbracket":
                    raise self.fail(self.peek, "'[' after Optional")
                inner = self.one_arg("Optional")
                assert inner is not None
                return make_union([inner, None])
            case "Union":
                return self.union_args()
            case "Literal":
                return self.literal_args()
            case "NoneType":
                raise self.fail(token, f"{TYPE_EXPECTED} other than NoneType", Refusal.NONE_TYPE)
        if name in self.names and token.text == name:
            return Named(name)
        nfkc = nfkc_problem(name)
        if nfkc is not None:
            raise self.fail(token, nfkc, Refusal.NOT_NFKC)
        raise self.fail(token, TYPE_EXPECTED, Refusal.UNKNOWN_TYPE)

    def open_args(self) -> bool:
        """``[`` if present; ``list[]`` (the TypeScript postfix on a bare ``list``) is refused, as by DSPy."""
        if self.peek.kind != "lbracket":
            return False
        if self.ahead().kind == "rbracket":
            raise self.fail(self.ahead(), "a type")
        self.enter(self.next())
        return True

    def close_args(self, what: str) -> None:
        """After the last argument: an optional trailing comma, then ``]``."""
        if self.peek.kind == "comma" and self.ahead().kind == "rbracket":
            self.next()
        if self.peek.kind == "comma":
            raise self.fail(self.peek, f"']' ({what})", Refusal.TYPE_ARGUMENTS)
        self.expect("rbracket", f"']' ({what})")
        self.leave()

    def one_arg(self, what: str) -> TypeNode | None:
        """``[T]`` for list, set and Optional; None when no bracket follows."""
        if not self.open_args():
            return None
        item = self.field_type()
        self.close_args(f"{what} takes one type")
        return item

    def set_args(self) -> TypeNode:
        if not self.open_args():
            return SetOf(ANY)
        start = self.peek
        item = self.field_type()
        if not hashable(item):
            raise self.fail(
                start, "a set item type whose values can be set members (not a list, dict, set or DSPy type)",
                Refusal.SET_ITEM,
            )
        self.close_args("set takes one type")
        return SetOf(item)

    def dict_args(self) -> TypeNode:
        if not self.open_args():
            return DictOf(ANY)
        key_token = self.peek
        key = self.field_type()
        if key != STR:
            raise self.fail(key_token, "str as the dict key type (JSON object keys are strings)", Refusal.DICT_KEY)
        if self.peek.kind != "comma":
            raise self.fail(self.peek, "',' and the dict value type", Refusal.TYPE_ARGUMENTS)
        self.next()
        value = self.field_type()
        self.close_args("dict takes a key and a value type")
        return DictOf(value)

    def tuple_args(self) -> TypeNode:
        if not self.open_args():
            return TupleOf((ANY,), True)
        items = [self.field_type()]
        if self.peek.kind == "comma" and self.ahead().kind == "ellipsis":
            self.next()
            self.next()
            self.close_args("tuple[T, ...] takes one type before the ...")
            return TupleOf(tuple(items), True)
        while self.peek.kind == "comma" and self.ahead().kind != "rbracket":
            self.next()
            items.append(self.field_type())
        self.close_args("',' or ']'")
        return TupleOf(tuple(items), False)

    def union_args(self) -> TypeNode:
        self.enter(self.expect("lbracket", "'[' after Union"))
        start = self.peek
        members = [self.union()]
        while self.peek.kind == "comma" and self.ahead().kind != "rbracket":
            self.next()
            members.append(self.union())
        self.close_args("',' or ']'")
        result = make_union(members)
        if result is None:
            raise self.fail(start, f"{TYPE_EXPECTED} other than None", Refusal.NONE_TYPE)
        return result

    def literal_args(self) -> TypeNode:
        self.enter(self.expect("lbracket", "'[' after Literal"))
        values: list[LiteralValue] = []
        while True:
            value = self.literal_value()
            # typing.Literal drops repeated values (JavaScript's ===: 1 and 1.0 are one value).
            if not any(literal_equal(v, value) for v in values):
                values.append(value)
            if self.peek.kind != "comma" or self.ahead().kind == "rbracket":
                break
            self.next()
        self.close_args("',' or ']'")
        return LiteralOf(tuple(values))

    def literal_value(self) -> LiteralValue:
        token = self.next()
        if token.kind == "string":
            return self.strings(token)
        if token.kind == "number":
            number = number_value(token.text)
            if number.value is None:
                raise self.fail(token, number.expected, number.refusal)
            return number.value
        if token.kind == "lparen":
            self.enter(token)
            value = self.literal_value()
            if self.peek.kind == "comma":
                raise self.fail(self.peek, "')' (a parenthesised tuple: write Literal[a, b])", Refusal.TYPE_ARGUMENTS)
            self.expect("rparen", "')'")
            self.leave()
            return value
        if token.kind == "ellipsis":
            raise self.fail(token, "a literal value JSON can hold (not ...)", Refusal.NOT_JSON)
        if token.kind in ("minus", "plus"):
            raise self.fail(token, "a literal value (DSPy cannot parse signed numbers in Literal)")
        if token.kind == "ident":
            if token.text in PYTHON_CONSTANTS:
                return PYTHON_CONSTANTS[token.text]
            raise self.fail(token, "a literal value (a quoted string, a number, True, False or None), not a type",
                            Refusal.LITERAL_VALUE)
        raise self.fail(token, "a literal value (a quoted string, a number, True, False or None)")

    def strings(self, first: Token) -> str:
        """Adjacent string literals are one value, as in Python (``'a' 'b'`` is ``'ab'``)."""
        parts: list[str] = []
        token: Token | None = first
        while token is not None:
            if "b" in token.prefix:
                raise self.fail(token, "a text string (JSON has no bytes)", Refusal.NOT_JSON)
            if "f" in token.prefix:
                raise self.fail(token, "a literal value (an f-string is an expression)")
            parts.append(token.text)
            token = self.next() if self.peek.kind == "string" else None
        return "".join(parts)


def parse_signature_text(text: str, names: Collection[str] = ()) -> ParsedSignature:
    """Parse a signature string; ``names`` are the registered type names it may use.

    Raises :class:`SignatureParseError` with the column and what was expected there.
    """
    check_length(text)
    cols = Columns(text)
    check_arrows(text, cols)
    inputs, outputs = _Parser(tokenize(text, cols), names).signature()
    return ParsedSignature(text, tuple(inputs), tuple(outputs))


def parse_type_text(text: str, names: Collection[str] = ()) -> TypeNode:
    """Parse one type, e.g. ``list[str]`` or ``number[]``."""
    check_length(text)
    parser = _Parser(tokenize(text), names)
    type_ = parser.field_type()
    parser.expect("eof", "'|' or end of type")
    return type_


def check_signature(text: str, field: str = "signature") -> ParsedSignature:
    """A signature from a request, with the registered type names; BadRequest naming ``field`` otherwise.

    The error's details carry the parser's ``column``, ``expected`` and (for a deliberate refusal)
    ``refusal``. A signature without an output field is refused too (no module can run it).
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
    details: dict[str, object] = {"field": field, "column": err.column, "expected": err.expected}
    if err.refusal is not None:
        details["refusal"] = err.refusal
    return BadRequest(text if text.startswith(field) else f"{field}: {text}", details=details)
