"""Python string and number literals as ``Literal[...]`` holds them: a mirror of ``src/signature/literals.ts``.

The string prefixes ``u`` ``r`` (and ``b`` ``f``, read so that the parser can refuse them by name),
single and triple quotes, every escape Python decodes except ``\\N{...}``, and the number forms
``1_000``, ``0x1f``, ``0o7``, ``0b1``, ``1.``, ``.5``, ``1e-7`` (and ``1j``, refused by the parser).
Indexes are code points; errors carry UTF-16 columns (:class:`~.signature_tokens.Columns`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from .signature_types import MAX_SAFE_LITERAL, Refusal, ident_continue


class SignatureParseError(ValueError):
    """A signature the grammar refuses: ``column`` (1-based, UTF-16), what was ``expected`` there, and
    ``refusal`` (a :class:`~.signature_types.Refusal` code) when the text is refused on purpose."""

    def __init__(self, column: int, expected: str, message: str | None = None, refusal: str | None = None) -> None:
        super().__init__(message or f"signature column {column}: expected {expected}")
        self.column = column
        self.expected = expected
        self.refusal = refusal


class ColumnsOf(Protocol):
    def at(self, index: int) -> int: ...


@dataclass(frozen=True)
class StringLiteral:
    value: str
    prefix: str
    end: int


_SIMPLE_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "a": "\x07", "b": "\b", "f": "\f", "n": "\n", "r": "\r",
                   "t": "\t", "v": "\v"}
_HEX = frozenset("0123456789abcdefABCDEF")
_OCT = frozenset("01234567")


def line_break_at(text: str, i: int) -> int:
    """Length of the line break at ``i`` (``\\r\\n`` is one), or 0."""
    if i >= len(text):
        return 0
    if text[i] == "\n":
        return 1
    if text[i] == "\r":
        return 2 if text[i + 1:i + 2] == "\n" else 1
    return 0


def is_surrogate(c: str) -> bool:
    return "\ud800" <= c <= "\udfff"


def _fail(cols: ColumnsOf, i: int, expected: str, refusal: str | None = None) -> SignatureParseError:
    col = cols.at(i)
    return SignatureParseError(col, expected, f"signature column {col}: expected {expected}", refusal)


def _check_char(text: str, i: int, cols: ColumnsOf) -> None:
    if text[i] == "\x00":
        raise _fail(cols, i, "no NUL character in the text (write \\x00 in a string)")
    if is_surrogate(text[i]):
        raise _fail(cols, i, "no lone UTF-16 surrogate", Refusal.NOT_JSON)


def read_string(text: str, start: int, quote_at: int, cols: ColumnsOf) -> StringLiteral:
    """The string literal whose prefix starts at ``start`` and whose opening quote is at ``quote_at``."""
    prefix = text[start:quote_at].lower()
    raw = "r" in prefix
    q = text[quote_at]
    triple = text.startswith(q * 3, quote_at)
    i = quote_at + (3 if triple else 1)
    out: list[str] = []

    def unterminated() -> SignatureParseError:
        return _fail(cols, start, f"a closing {q * 3 if triple else q} for this string")

    while True:
        if i >= len(text):
            raise unterminated()
        ch = text[i]
        if text.startswith(q * 3, i) if triple else ch == q:
            return StringLiteral("".join(out), prefix, i + (3 if triple else 1))
        nl = line_break_at(text, i)
        if nl:
            if not triple:
                raise unterminated()
            out.append("\n")
            i += nl
            continue
        _check_char(text, i, cols)
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= len(text):
            raise unterminated()
        after_nl = line_break_at(text, i + 1)
        if raw:
            if after_nl:
                out.append("\\\n")
                i += 1 + after_nl
            else:
                _check_char(text, i + 1, cols)
                out.append(text[i:i + 2])
                i += 2
            continue
        if after_nl:
            i += 1 + after_nl
            continue
        value, i = _read_escape(text, i, cols)
        out.append(value)


def _read_escape(text: str, at: int, cols: ColumnsOf) -> tuple[str, int]:
    e = text[at + 1]
    simple = _SIMPLE_ESCAPES.get(e)
    if simple is not None:
        return simple, at + 2
    if e in _OCT:
        end = at + 2
        while end < at + 4 and end < len(text) and text[end] in _OCT:
            end += 1
        return chr(int(text[at + 1:end], 8)), end
    hex_length = {"x": 2, "u": 4, "U": 8}.get(e, 0)
    if hex_length:
        digits = text[at + 2:at + 2 + hex_length]
        if len(digits) < hex_length or not all(d in _HEX for d in digits):
            raise _fail(cols, at, f"\\{e} and {hex_length} hexadecimal digits")
        cp = int(digits, 16)
        if cp > 0x10FFFF:
            raise _fail(cols, at, "a Unicode code point up to \\U0010ffff")
        if 0xD800 <= cp <= 0xDFFF:
            raise _fail(cols, at, "no surrogate code point (JSON text cannot hold a lone one)", Refusal.NOT_JSON)
        return chr(cp), at + 2 + hex_length
    if e == "N":
        raise _fail(cols, at, "an escape other than \\N{...} (write the character, or \\u / \\U and its code point)",
                    Refusal.ESCAPE)
    _check_char(text, at + 1, cols)
    raise _fail(cols, at, "one of Python's string escapes (\\\\ \\' \\\" \\a \\b \\f \\n \\r \\t \\v \\ooo \\xhh "
                          "\\uhhhh \\Uhhhhhhhh)", Refusal.ESCAPE)


_DEC = r"[0-9](?:_?[0-9])*"
_EXPONENT = rf"[eE][-+]?{_DEC}"
_INT_FORMS = re.compile(r"(?:0[xX](?:_?[0-9a-fA-F])+|0[bB](?:_?[01])+|0[oO](?:_?[0-7])+|0(?:_?0)*|[1-9](?:_?[0-9])*)",
                        re.ASCII)
_FLOAT_FORM = re.compile(rf"(?:(?:{_DEC}\.(?:{_DEC})?|\.{_DEC})(?:{_EXPONENT})?|{_DEC}{_EXPONENT})", re.ASCII)
_DIGITS = re.compile(r"[0-9](?:_?[0-9])*", re.ASCII)


def scan_number(text: str, start: int) -> int:
    """The end of a number token starting at ``start`` (a digit, or ``.`` and a digit)."""
    i = start
    hexadecimal = text[start:start + 2] in ("0x", "0X")
    while i < len(text):
        ch = text[i]
        if ch == "." or ident_continue(ch):
            i += 1
        elif ch in "+-" and i > start and text[i - 1] in "eE" and not hexadecimal:
            i += 1
        else:
            break
    return i


@dataclass(frozen=True)
class NumberValue:
    value: int | float | None
    expected: str = ""
    refusal: str | None = None


def number_value(token: str) -> NumberValue:
    """The value of Python number text: exact integers up to ±(2**53 − 1), floats as Python reads them
    (an integral one within the safe range is the integer: JSON has one number type)."""
    if _INT_FORMS.fullmatch(token):
        value = int(token, 0) if not token.lstrip("0_") == "" else 0
        if value > MAX_SAFE_LITERAL:
            return NumberValue(None, f"an integer of at most {MAX_SAFE_LITERAL} (a JSON number holds no larger "
                                     "integer exactly)", Refusal.UNSAFE_INTEGER)
        return NumberValue(value)
    if _FLOAT_FORM.fullmatch(token):
        number = float(token.replace("_", ""))
        if number in (float("inf"), float("-inf")):
            return NumberValue(None, "a finite number (JSON has no infinity)", Refusal.NOT_JSON)
        return NumberValue(int(number) if number.is_integer() and abs(number) <= MAX_SAFE_LITERAL else number)
    body = token[:-1]
    if token[-1:] in ("j", "J") and (_INT_FORMS.fullmatch(body) or _FLOAT_FORM.fullmatch(body)
                                     or _DIGITS.fullmatch(body)):
        return NumberValue(None, "a real number (JSON has no imaginary numbers)", Refusal.NOT_JSON)
    return NumberValue(None, "a number in Python syntax")
