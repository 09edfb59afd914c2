"""Generated signature text across the whole grammar (docs/signatures.md), for the parity suites.

``signatures`` builds well-formed text from a fixed vocabulary: field names (plain, non-English,
type-shadowing, soft keywords), every type constructor (nested), every Python literal form and
whitespace form (tabs, line breaks, form feeds, comments, line continuations), trailing commas.
``with_one_refusal`` puts one specimen of a kind DSPy accepts and the grammar refuses on purpose (or
both refuse) into such a signature; ``near_misses`` insert, delete or replace pieces. The vocabulary
holds no name whose import has effects, since DSPy's resolver (the reference) imports any module a
name spells. The TS twin is test/harness/signature-gen.ts.
"""

from __future__ import annotations

from hypothesis import strategies as st

GOOD_NAMES = ("q", "a", "question", "answer", "context", "x1", "items", "json", "str", "list", "dict", "int",
              "Literal", "dspy", "typing", "match", "case", "type", "café", "名前", "über", "Ωmega", "b", "c", "d")
SCALARS = ("str", "int", "float", "bool", "Any", "Text", "typing.Text", "typing.Any")
TS_SPELLINGS = ("string", "number", "boolean", "any")
BARE = ("list", "dict", "tuple", "set", "List", "Dict", "Tuple", "Set", "typing.List", "typing.Dict")
DSPY = ("dspy.Image", "dspy.Audio", "dspy.File", "dspy.ToolCalls", "dspy.Code", "dspy.Reasoning",
        "dspy.Code['python']", "dspy.Code['c++']")
SPACES = (" ", " ", " ", "", "  ", "\t", "\n", "\r\n", "\f", " # note\n", " \\\n")
LITERALS = (
    "'a'", '"b"', "'it\\'s'", '"say \\"hi\\""', "u'x'", "U'y'", "r'\\d'", "R'\\n'", "'''tri\nple'''", '"""t"""',
    "'a' 'b'", "'a' u'b'", "'\\n\\t'", "'\\x41'", "'\\u00e9'", "'\\U0001F600'", "'\\101'", "'\\0'", "'\\a\\v'",
    "'\x01'", "'\x7f'", "'é'", "'😀'", "'\u2028'", "''", "('p')",
    "0", "1", "42", "1_000", "0x1f", "0o7", "0b1", "00", "1.5", "2.0", ".5", "1.", "1e5", "1E-7", "0.0000001",
    "1e21", "1e19", "9007199254740992.0", "9007199254740991", "True", "False", "None",
)

# Specimens of the kinds DSPy accepts that the grammar refuses on purpose, by refusal code, and of
# kinds both refuse.
REFUSED_TYPES: dict[str, tuple[str, ...]] = {
    "unknown-type": ("bytes", "Self", "Sequence[int]", "frozenset[int]", "complex", "object"),
    "none-type": ("None", "NoneType", "Union[None]", "Optional[None]", "None | None"),
    "dotted-name": ("typing.Sequence[int]", "collections.OrderedDict", "dspy.adapters.types.Image"),
    "dspy-type": ("dspy.Type", "dspy.ToolCallResults"),
    "not-nfkc": ("\uff49\uff4e\uff54", "\u017ftr"),
    "dict-key": ("dict[int, str]", "dict[Literal['k'], int]", "Dict[bool, str]"),
    "type-arguments": ("list[int, str]", "dict[(str, int)]", "tuple[()]", "set[int, str]"),
    "set-item": ("set[list[int]]", "set[dict[str, int]]", "set[dspy.Image]"),
    "literal-value": ("Literal[int]", "Literal[Literal['a']]"),
    "forward-reference": ("list['int']", "Optional['str']", "dict[str, 'float']"),
    "not-json": ("Literal[b'x']", "Literal[1j]", "Literal[...]", "Literal[1e400]"),
    "unsafe-integer": ("Literal[9007199254740993]", "Literal[0x20000000000001]"),
    "escape": ("Literal['\\N{BULLET}']", "Literal['\\d']", "Literal['a\\q']"),
    "code-language": ("dspy.Code['has space']", "dspy.Code['']"),
    "both refuse": ("Literal[-1]", "Literal[f'x']", "Literal[007]", "int()", "Optional", "Literal"),
}
BAD_NAMES = ("\ufb01eld", "\uff51x", "class", "None", "True", "_x", "_", "fields", "instructions", "model_config",
             "signature", "1a", "constructor", "__proto__")


def _sep(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(SPACES))


@st.composite
def types_(draw: st.DrawFn, depth: int = 0) -> str:
    """A well-formed type expression of the grammar, any constructor, nested up to 4 deep."""
    if depth >= 4 or draw(st.integers(0, 2)) == 0:
        return draw(st.sampled_from(draw(st.sampled_from((SCALARS, SCALARS, TS_SPELLINGS, BARE, DSPY)))))
    inner = types_(depth + 1)
    s = _sep(draw)
    comma = draw(st.sampled_from((",", ", ", ", ", f",{s}")))
    trailing = draw(st.sampled_from(("", "", "", ",")))
    kind = draw(st.integers(0, 12))
    if kind == 0:
        return f"{draw(st.sampled_from(('list', 'List', 'typing.List')))}[{draw(inner)}{trailing}]"
    if kind == 1:
        item = draw(st.sampled_from(("str", "int", "float", "bool", "Text", "Literal['a', 1]", "tuple[int, str]",
                                     "Optional[int]", "int | str", "Any")))
        return f"{draw(st.sampled_from(('set', 'Set', 'typing.Set')))}[{item}{trailing}]"
    if kind == 2:
        key = draw(st.sampled_from(("str", "Text", "string", "typing.Text")))
        return f"{draw(st.sampled_from(('dict', 'Dict')))}[{key}{comma}{draw(inner)}{trailing}]"
    if kind == 3:
        return f"{draw(st.sampled_from(('Optional', 'typing.Optional')))}[{draw(inner)}{trailing}]"
    if kind == 4:
        members = draw(st.lists(inner, min_size=1, max_size=3))
        return f"{draw(st.sampled_from(('Union', 'typing.Union')))}[{comma.join(members)}{trailing}]"
    if kind == 5:
        values = draw(st.lists(st.sampled_from(LITERALS), min_size=1, max_size=3))
        return f"{draw(st.sampled_from(('Literal', 'typing.Literal')))}[{comma.join(values)}{trailing}]"
    if kind == 6:
        return f"{draw(inner)}{s}|{s}{draw(inner)}"
    if kind == 7:
        return f"{draw(inner)}{s}|{s}None"
    if kind == 8:
        item = draw(inner)
        # `list[]` is refused by both (a bare generic needs its type inside the brackets).
        return f"list[{item}]" if item in BARE or item == "dspy.Code" else f"{item}[]"
    if kind == 9:
        return f"({s}{draw(inner)}{s})"
    if kind == 10:
        return f"{draw(st.sampled_from(('tuple', 'Tuple')))}[{draw(inner)}{comma}...{trailing}]"
    if kind == 11:
        items = draw(st.lists(inner, min_size=1, max_size=3))
        return f"{draw(st.sampled_from(('tuple', 'Tuple', 'typing.Tuple')))}[{comma.join(items)}{trailing}]"
    return draw(st.sampled_from(("list[{}]", "dict[str, {}]", "Optional[{}]"))).format(draw(st.sampled_from(DSPY)))


def _field(draw: st.DrawFn, name: str, role: str) -> str:
    if draw(st.integers(0, 2)) == 0:
        return name
    s = _sep(draw)
    type_ = draw(types_())
    if role == "input" and draw(st.integers(0, 12)) == 0:
        type_ = draw(st.sampled_from(("dspy.History", "list[dspy.Tool]", "dspy.Tool", "Optional[dspy.Tool]")))
    return f"{name}{draw(st.sampled_from(('', ' ', s)))}:{s}{type_}"


@st.composite
def _parts(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    names = iter(draw(st.lists(st.sampled_from(GOOD_NAMES), unique=True, min_size=6, max_size=6)))
    inputs = [_field(draw, next(names), "input") for _ in range(draw(st.integers(0, 3)))]
    outputs = [_field(draw, next(names), "output") for _ in range(draw(st.integers(0, 3)))]
    return inputs, outputs


def _join(draw: st.DrawFn, inputs: list[str], outputs: list[str]) -> str:
    def side(fields: list[str]) -> str:
        sep = draw(st.sampled_from((", ", ",", f",{_sep(draw)}", " , ")))
        return sep.join(fields) + (draw(st.sampled_from(("", "", "", ","))) if fields else "")

    arrow = draw(st.sampled_from(("->", " -> ", " -> ", f"{_sep(draw)}->{_sep(draw)}")))
    lead = _sep(draw).strip(" ")
    end = draw(st.sampled_from(("", "", "\n", " ")))
    return f"{lead}{side(inputs)}{arrow}{side(outputs)}{end}"


@st.composite
def signatures(draw: st.DrawFn) -> str:
    """A well-formed signature (DSPy accepts it, or the grammar accepts it as an extension)."""
    inputs, outputs = draw(_parts())
    return _join(draw, inputs, outputs)


@st.composite
def with_one_refusal(draw: st.DrawFn) -> str:
    """A well-formed signature with one specimen of a refused kind in it."""
    inputs, outputs = draw(_parts())
    if not outputs:
        outputs = ["answer_"]
    side = draw(st.sampled_from((inputs, outputs))) or outputs
    at = draw(st.integers(0, len(side) - 1))
    name = side[at].split(":")[0].strip()
    kind = draw(st.integers(0, 7))
    if kind <= 3:
        wrapper = draw(st.sampled_from(("{}", "{}", "list[{}]", "Optional[{}]", "{} | int", "dict[str, {}]",
                                        "tuple[int, {}]", "Union[str, {}]")))
        specimens = REFUSED_TYPES[draw(st.sampled_from(sorted(REFUSED_TYPES)))]
        side[at] = f"{name}: {wrapper.format(draw(st.sampled_from(specimens)))}"
    elif kind == 4:
        side[at] = draw(st.sampled_from(BAD_NAMES)) + side[at][len(name):]
    elif kind == 5:
        side[at] += draw(st.sampled_from((" = 1", "=None", ' = "x"')))
    elif kind == 6:
        side.insert(at, draw(st.sampled_from(("*args", "**kw", "*", "/", f"*{name}x"))))
    else:
        placement = ("h: dspy.History, h2: dspy.History", "h: list[dspy.History]", "h: Optional[dspy.History]")
        if side is outputs:
            side.insert(at, draw(st.sampled_from(("h: dspy.History", "t: dspy.Tool", "t: list[dspy.Tool]"))))
        elif draw(st.booleans()):
            side.insert(at, draw(st.sampled_from(placement)))
        else:
            side.append(name)  # the same name twice
    return _join(draw, inputs, outputs)


PIECES = (":", ",", "|", "[", "]", "[]", "->", "-", ".", "(", ")", "=", "*", "#", "'a'", '"b"', "'", "0", "1.5",
          "1a", " ", "\t", "\n", "\x0b", "\u00a0", "é", "😀", "\uff49", "\u200b", "\\", "None", "dspy.", "typing.",
          "...", "u'", "0x", "_", "str", "Literal[", "list[", ",]")


@st.composite
def near_misses(draw: st.DrawFn) -> str:
    """A generated signature with one to three pieces inserted, deleted or replaced."""
    text = draw(signatures())
    for _ in range(draw(st.integers(1, 3))):
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


whole_grammar = st.one_of(signatures(), signatures(), with_one_refusal(), near_misses())
"""Half well-formed signatures, a quarter with one refused specimen, a quarter near misses."""
