"""Signatures from wire text: parsed by the allow-list grammar, built as ``dspy.Signature`` classes here.

The text is never given to DSPy's own string parser (which resolves names by attribute access and
imports modules) and never evaluated: :mod:`.signature_grammar` turns it into a tree of the TS engine's
types, and :func:`build_signature` makes real annotations from that tree (``str``, ``int``, ``float``,
``bool``, ``Any``, ``list[T]``, ``dict[str, T]``, ``Optional``, ``Union``, ``Literal``) and calls
``dspy.Signature(fields, instructions)`` with a dict of fields.

Other types come only from the worker's operator: :func:`register_type` in this module or in a module
named by ``DSPEX_TYPE_MODULES`` (comma-separated import paths read from the worker's own environment,
imported once), the way metrics are registered. A request can only name them.
"""

from __future__ import annotations

import functools
import importlib
import os
import threading
import typing
from collections.abc import Mapping
from typing import Any

import dspy
from pydantic import TypeAdapter

from .errors import BadRequest
from .signature_grammar import CONSTRUCTORS, SCALARS, SignatureParseError, parse_signature_text
from .signature_types import (
    PYTHON_KEYWORDS,
    DictOf,
    FieldSpec,
    ListOf,
    LiteralOf,
    Named,
    OptionalOf,
    ParsedSignature,
    Scalar,
    TypeNode,
    UnionOf,
)

_REGISTRY: dict[str, type] = {}
_lock = threading.Lock()
_loaded = False
_SCALAR_TYPES: Mapping[str, Any] = {"str": str, "int": int, "float": float, "bool": bool, "any": Any}


def register_type(name: str, cls: type) -> type:
    """Let signatures name ``cls`` as ``name`` (e.g. a pydantic model). Operator code only, never the wire.

    ``name`` must be an identifier that is not a word of the grammar, a keyword or ``True``/``False``;
    pydantic must be able to build a schema for ``cls``. Returns ``cls`` (usable as a decorator helper).
    """
    if not isinstance(name, str) or not name.isidentifier() or not name.isascii():
        raise ValueError(f"type name {name!r}: expected an ASCII identifier")
    if name in SCALARS or name in CONSTRUCTORS or name in PYTHON_KEYWORDS or name.startswith("_"):
        raise ValueError(f"type name {name!r} is a word of the signature grammar or a Python keyword")
    if not isinstance(cls, type):
        raise ValueError(f"type {name!r}: expected a class, got {type(cls).__name__}")
    TypeAdapter(cls)  # raises now, at start-up, rather than on the first request
    with _lock:
        _REGISTRY[name] = cls
        build_signature.cache_clear()
    return cls


def registered_types() -> Mapping[str, type]:
    """Every type a signature may name besides the grammar's own, after loading ``DSPEX_TYPE_MODULES``."""
    _load_configured_modules()
    return dict(_REGISTRY)


def _load_configured_modules() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for path in filter(None, (p.strip() for p in os.environ.get("DSPEX_TYPE_MODULES", "").split(","))):
        importlib.import_module(path)


def annotation(node: TypeNode, registry: Mapping[str, type]) -> Any:
    """The Python annotation of a parsed type (only the grammar's types and registered classes)."""
    if isinstance(node, Scalar):
        return _SCALAR_TYPES[node.kind]
    if isinstance(node, ListOf):
        return list[annotation(node.item, registry)]  # type: ignore[misc]
    if isinstance(node, DictOf):
        return dict[str, annotation(node.value, registry)]  # type: ignore[misc]
    if isinstance(node, OptionalOf):
        return typing.Optional[annotation(node.inner, registry)]  # noqa: UP045 - what DSPy builds
    if isinstance(node, LiteralOf):
        return typing.Literal[node.values]
    if isinstance(node, UnionOf):
        return typing.Union[tuple(annotation(m, registry) for m in node.members)]  # noqa: UP007
    if isinstance(node, Named):
        return registry[node.name]
    raise TypeError(f"not a type node: {type(node).__name__}")


def _field(spec: FieldSpec, registry: Mapping[str, type]) -> tuple[Any, Any]:
    ann = annotation(spec.type, registry)
    if spec.role == "input":
        # As DSPy's own string parser marks inputs written without a type.
        return ann, dspy.InputField(IS_TYPE_UNDEFINED=not spec.typed)
    return ann, dspy.OutputField()


def parse(text: str) -> ParsedSignature:
    """Parse ``text`` with the grammar and the registered names; 400 naming ``signature`` otherwise."""
    try:
        return parse_signature_text(text, registered_types())
    except SignatureParseError as err:
        raise BadRequest(str(err), details={"field": "signature", "column": err.column,
                                            "expected": err.expected}) from None


@functools.lru_cache(maxsize=512)
def build_signature(text: str, instructions: str | None) -> type[dspy.Signature]:
    """The ``dspy.Signature`` for ``text`` (memoised per text and instructions).

    Raises BadRequest naming ``signature`` when the grammar refuses the text or it has no output field.
    """
    parsed = parse(text)
    if not parsed.outputs:
        raise BadRequest("signature: expected at least one output field", details={"field": "signature"})
    return to_dspy(parsed, instructions)


def to_dspy(parsed: ParsedSignature, instructions: str | None) -> type[dspy.Signature]:
    """``dspy.Signature(fields, instructions)`` from a parsed signature: a dict of real annotations."""
    registry = registered_types()
    fields = {spec.name: _field(spec, registry) for spec in (*parsed.inputs, *parsed.outputs)}
    return typing.cast(type[dspy.Signature], dspy.Signature(fields, instructions))
