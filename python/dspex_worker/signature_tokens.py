"""Splits signature text into tokens with 1-based columns: a mirror of ``src/signature/tokenizer.ts``.

Whitespace (the six ASCII spaces JavaScript's tokenizer knows, newlines included) only separates
tokens. Columns count UTF-16 code units, as JavaScript strings do, so both engines report the same
column for the same text.
"""

from __future__ import annotations

from dataclasses import dataclass


class SignatureParseError(ValueError):
    """A signature the grammar refuses: ``column`` (1-based, UTF-16) and what was ``expected`` there."""

    def __init__(self, column: int, expected: str, message: str | None = None) -> None:
        super().__init__(message or f"signature column {column}: expected {expected}")
        self.column = column
        self.expected = expected


_PUNCT = {":": "colon", ",": "comma", "|": "pipe", "[": "lbracket", "]": "rbracket"}
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "r": "\r", "t": "\t"}
_SPACE = frozenset(" \t\n\r\f\v")


def _ident_start(c: str) -> bool:
    return ("A" <= c <= "Z") or ("a" <= c <= "z") or c == "_"


def _digit(c: str) -> bool:
    return "0" <= c <= "9"


@dataclass(frozen=True)
class Token:
    kind: str
    text: str  # for a string token: the decoded value
    column: int
    error: SignatureParseError | None = None


class Columns:
    """Python indexes code points; JavaScript (and so the node's messages) counts UTF-16 units."""

    def __init__(self, text: str) -> None:
        self.offsets: list[int] | None = None
        if any(ord(c) > 0xFFFF for c in text):
            offsets, n = [], 0
            for c in text:
                offsets.append(n)
                n += 2 if ord(c) > 0xFFFF else 1
            offsets.append(n)
            self.offsets = offsets

    def at(self, index: int) -> int:
        """The 1-based UTF-16 column of code point ``index`` (``len(text)`` for end of text)."""
        return index + 1 if self.offsets is None else self.offsets[index] + 1


def utf16_length(text: str) -> int:
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def tokenize(text: str, cols: Columns | None = None) -> list[Token]:
    """Tokens of ``text``; a character no token starts with ends the list with an ``error`` token."""
    cols = cols or Columns(text)
    tokens: list[Token] = []
    try:
        _scan(text, tokens, cols)
    except SignatureParseError as err:
        tokens.append(Token("error", "", err.column, err))
    tokens.append(Token("eof", "", cols.at(len(text))))
    return tokens


def _scan(text: str, tokens: list[Token], cols: Columns) -> None:
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _SPACE:
            i += 1
            continue
        start = i
        if _ident_start(ch):
            i += 1
            while i < n and (_ident_start(text[i]) or _digit(text[i])):
                i += 1
            tokens.append(Token("ident", text[start:i], cols.at(start)))
        elif _digit(ch):
            i += 1
            while i < n and _digit(text[i]):
                i += 1
            if i + 1 < n and text[i] == "." and _digit(text[i + 1]):
                i += 2
                while i < n and _digit(text[i]):
                    i += 1
            if i < n and _ident_start(text[i]):
                col = cols.at(start)
                raise SignatureParseError(
                    col, "a decimal number or an identifier",
                    f"signature column {col}: expected a decimal number or an identifier, "
                    f"found '{text[start:i + 1]}'",
                )
            tokens.append(Token("number", text[start:i], cols.at(start)))
        elif ch in ("'", '"'):
            i = _read_string(text, i, tokens, cols)
        elif ch == "-":
            arrow = i + 1 < n and text[i + 1] == ">"
            tokens.append(Token("arrow" if arrow else "minus", "->" if arrow else "-", cols.at(start)))
            i += 2 if arrow else 1
        else:
            kind = _PUNCT.get(ch)
            if kind is None:
                col = cols.at(start)
                raise SignatureParseError(col, "a field name, a type or one of : , | [ ] ->",
                                          f"signature column {col}: unexpected character {ch!r}")
            tokens.append(Token(kind, ch, cols.at(start)))
            i += 1


def _read_string(text: str, start: int, tokens: list[Token], cols: Columns) -> int:
    quote = text[start]
    value: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            tokens.append(Token("string", "".join(value), cols.at(start)))
            return i + 1
        if ch == "\n":
            break
        if ch == "\\":
            decoded = _ESCAPES.get(text[i + 1] if i + 1 < len(text) else "")
            if decoded is None:
                raise SignatureParseError(cols.at(i), "one of the escapes \\\\ \\' \\\" \\n \\r \\t")
            value.append(decoded)
            i += 2
            continue
        value.append(ch)
        i += 1
    raise SignatureParseError(cols.at(start), f"a closing {quote} for this string")
