"""DSPy 3.4.1's own string parser as the reference of the signature parity suites (tests only).

:func:`dspy_verdict` runs ``dspy.Signature(text)`` (``make_signature`` with no caller-frame lookup)
and turns the annotations it builds into the grammar's tree, so that DSPy's fields compare with ours
in the canonical spelling (``format_type``). An annotation the grammar has no form for (``bytes``,
``dict[int, str]``, ``typing.Self``, ...) is reported as ``unrepresentable``: DSPy accepted something
only a deliberate refusal of ours may account for. Literal numbers are read as JSON numbers (``2.0``
is ``2``), as the grammar reads them.

The suites feed it generated text made only of a fixed vocabulary, so DSPy's resolver (which imports
any module a name spells) only ever imports ``typing``, ``dspy`` and the standard modules named there.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import types
import typing
import warnings
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import dspy
from dspy.signatures.signature import make_signature

from dspex_worker.signature_types import (
    ANY,
    BOOL,
    FLOAT,
    INT,
    MAX_SAFE_LITERAL,
    STR,
    DictOf,
    DspyType,
    ListOf,
    LiteralOf,
    LiteralValue,
    SetOf,
    TupleOf,
    TypeNode,
    format_type,
    literal_equal,
    make_union,
)


class Unrepresentable(Exception):
    """DSPy built an annotation outside the grammar."""


_DSPY = {cls: name for name, cls in (("Image", dspy.Image), ("Audio", dspy.Audio), ("File", dspy.File),
                                     ("History", dspy.History), ("Tool", dspy.Tool), ("ToolCalls", dspy.ToolCalls),
                                     ("Code", dspy.Code), ("Reasoning", dspy.Reasoning))}
_SCALARS: dict[Any, TypeNode] = {str: STR, int: INT, float: FLOAT, bool: BOOL, Any: ANY, list: ListOf(ANY),
                                 dict: DictOf(ANY), set: SetOf(ANY), tuple: TupleOf((ANY,), True),
                                 # Bare typing aliases: DSPy refuses them as a whole type but not inside one
                                 # (`Union[str, List]`); pydantic reads them as the builtins of Any.
                                 typing.List: ListOf(ANY), typing.Dict: DictOf(ANY),  # noqa: UP006
                                 typing.Set: SetOf(ANY), typing.Tuple: TupleOf((ANY,), True)}  # noqa: UP006


def _literal(value: object) -> LiteralValue:
    if value is None or isinstance(value, bool | str):
        if isinstance(value, str) and any("\ud800" <= c <= "\udfff" for c in value):
            raise Unrepresentable("a lone surrogate")
        return value
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_LITERAL:
            raise Unrepresentable("an integer past 2**53")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Unrepresentable("infinity")
        return int(value) if value.is_integer() and abs(value) <= MAX_SAFE_LITERAL else value
    raise Unrepresentable(f"a literal {type(value).__name__}")


def tree(ann: Any) -> TypeNode:
    """DSPy's annotation as the grammar's tree, or :class:`Unrepresentable`."""
    try:
        if ann in _SCALARS:
            return _SCALARS[ann]
    except TypeError:  # unhashable annotation
        pass
    if isinstance(ann, type) and issubclass(ann, dspy.Code) and ann is not dspy.Code:
        language = ann.language
        # DSPy's string parser passes Code[('java',)]: the language arrives as a one-element tuple.
        return DspyType("Code", language[0] if isinstance(language, tuple) else language)
    if ann in _DSPY:
        return DspyType(_DSPY[ann])
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is list and len(args) == 1:
        return ListOf(tree(args[0]))
    if origin is set and len(args) == 1:
        return SetOf(tree(args[0]))
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return TupleOf((tree(args[0]),), True)
    if origin is tuple and args and Ellipsis not in args:
        return TupleOf(tuple(tree(a) for a in args), False)
    if origin is dict and len(args) == 2 and args[0] is str:
        return DictOf(tree(args[1]))
    if origin is typing.Literal:
        values: list[LiteralValue] = []
        for v in (_literal(a) for a in args):
            if not any(literal_equal(v, w) for w in values):
                values.append(v)
        return LiteralOf(tuple(values))
    if origin in (typing.Union, types.UnionType):
        members = [None if a is type(None) else tree(a) for a in args]
        result = make_union(members)
        if result is None:
            raise Unrepresentable("NoneType")
        return result
    raise Unrepresentable(repr(ann))


def dspy_verdict(text: str) -> dict[str, Any]:
    """``{"ok": True, inputs, outputs}`` (fields as ``[name, canonical type]``), ``{"ok": True,
    "unrepresentable": why}``, or ``{"ok": False, "error": class name}``."""
    sink = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            warnings.simplefilter("ignore")
            sig = make_signature(text)
    except Exception as err:  # noqa: BLE001 - any refusal is a refusal
        return {"ok": False, "error": type(err).__name__}
    try:
        inputs = [[n, format_type(tree(f.annotation))] for n, f in sig.input_fields.items()]
        outputs = [[n, format_type(tree(f.annotation))] for n, f in sig.output_fields.items()]
    except Unrepresentable as why:
        return {"ok": True, "unrepresentable": str(why)}
    return {"ok": True, "inputs": inputs, "outputs": outputs}
