"""Splits signature text into tokens with 1-based columns: a mirror of ``src/signature/tokenizer.ts``.

Between tokens, as inside a Python parameter list: spaces, tabs, form feeds, line breaks, a backslash
before a line break, and ``#`` comments that end at a line break. Columns count UTF-16 code units, as
JavaScript strings do, so both engines report the same column for the same text.
"""

from __future__ import annotations

from dataclasses import dataclass

from .signature_literals import SignatureParseError, is_surrogate, line_break_at, read_string, scan_number
from .signature_types import Refusal, ident_continue, ident_start

__all__ = ["Columns", "SignatureParseError", "Token", "tokenize", "utf16_length"]

_PUNCT = {":": "colon", ",": "comma", "|": "pipe", "[": "lbracket", "]": "rbracket", "(": "lparen",
          ")": "rparen", "+": "plus", "=": "equals", "*": "star", "/": "slash"}
_SPACE = frozenset(" \t\f")
_STRING_PREFIXES = frozenset(("r", "u", "b", "f", "br", "rb", "fr", "rf"))


@dataclass(frozen=True)
class Token:
    kind: str
    text: str  # for a string token: the decoded value
    column: int
    error: SignatureParseError | None = None
    prefix: str = ""  # for a string token: its prefix in lower case


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


def _unexpected(cols: Columns, i: int, ch: str, refusal: str | None = None) -> SignatureParseError:
    col = cols.at(i)
    return SignatureParseError(col, "a field name, a type or one of : , | [ ] ( ) ->",
                               f"signature column {col}: unexpected character {ch!r}", refusal)


def _scan(text: str, tokens: list[Token], cols: Columns) -> None:
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        nl = line_break_at(text, i)
        if ch in _SPACE or nl:
            i += max(nl, 1)
            continue
        start = i
        if ch == "\\":
            after = line_break_at(text, i + 1)
            if not after:
                raise _unexpected(cols, i, ch)
            i += 1 + after
            continue
        if ch == "#":
            while i < n and not line_break_at(text, i):
                i += 1
            if i >= n:
                col = cols.at(start)
                raise SignatureParseError(col, "a line break to end this comment")
            continue
        if is_surrogate(ch):
            raise _unexpected(cols, i, ch, Refusal.NOT_JSON)
        if ident_start(ch):
            i += 1
            while i < n and ident_continue(text[i]):
                i += 1
            word = text[start:i]
            if i < n and text[i] in "'\"" and word.lower() in _STRING_PREFIXES:
                literal = read_string(text, start, i, cols)
                tokens.append(Token("string", literal.value, cols.at(start), prefix=literal.prefix))
                i = literal.end
            else:
                tokens.append(Token("ident", word, cols.at(start)))
        elif "0" <= ch <= "9" or (ch == "." and "0" <= text[i + 1:i + 2] <= "9" and text[i + 1:i + 2] != ""):
            i = scan_number(text, i)
            tokens.append(Token("number", text[start:i], cols.at(start)))
        elif ch in "'\"":
            literal = read_string(text, i, i, cols)
            tokens.append(Token("string", literal.value, cols.at(start), prefix=""))
            i = literal.end
        elif ch == "-":
            arrow = text[i + 1:i + 2] == ">"
            tokens.append(Token("arrow" if arrow else "minus", "->" if arrow else "-", cols.at(start)))
            i += 2 if arrow else 1
        elif ch == ".":
            ellipsis = text.startswith("...", i)
            tokens.append(Token("ellipsis" if ellipsis else "dot", "..." if ellipsis else ".", cols.at(start)))
            i += 3 if ellipsis else 1
        else:
            kind = _PUNCT.get(ch)
            if kind is None:
                raise _unexpected(cols, i, ch)
            tokens.append(Token(kind, ch, cols.at(start)))
            i += 1
