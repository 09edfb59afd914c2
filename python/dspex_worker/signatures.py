"""Signatures from wire text: parsed by the allow-list grammar, built as ``dspy.Signature`` classes here.

The text is never given to DSPy's own string parser (which resolves names by attribute access and
imports modules) and never evaluated: :mod:`.signature_grammar` turns it into a tree of the TS engine's
types, and :func:`to_dspy` makes real annotations from that tree (``str``, ``int``, ``float``,
``bool``, ``Any``, ``list[T]``, ``set[T]``, ``tuple[...]``, ``dict[str, T]``, ``Optional``, ``Union``,
``Literal``, DSPy's own types from a fixed table, and classes from :mod:`.type_registry`) and calls
``dspy.Signature(fields, instructions)`` with a dict of fields.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Mapping
from typing import Any

import dspy

from . import type_registry
from .signature_grammar import check_signature
from .signature_types import (
    DictOf,
    DspyType,
    FieldSpec,
    ListOf,
    LiteralOf,
    Named,
    OptionalOf,
    ParsedSignature,
    Scalar,
    SetOf,
    TupleOf,
    TypeNode,
    UnionOf,
)

_SCALAR_TYPES: Mapping[str, Any] = {"str": str, "int": int, "float": float, "bool": bool, "any": Any}
DSPY_CLASSES: Mapping[str, type] = {
    "Image": dspy.Image, "Audio": dspy.Audio, "File": dspy.File, "History": dspy.History, "Tool": dspy.Tool,
    "ToolCalls": dspy.ToolCalls, "Code": dspy.Code, "Reasoning": dspy.Reasoning,
}
"""The classes behind ``dspy.<Name>``: a fixed table, never an attribute lookup on a module."""


@functools.lru_cache(maxsize=64)
def code_class(language: str) -> type:
    """``dspy.Code[language]`` (DSPy makes a new class per call, so one per language is kept)."""
    return typing.cast(type, dspy.Code[language])


def annotation(node: TypeNode, registry: Mapping[str, type]) -> Any:
    """The Python annotation of a parsed type (only the grammar's types and registered classes)."""
    if isinstance(node, Scalar):
        return _SCALAR_TYPES[node.kind]
    if isinstance(node, ListOf):
        return list[annotation(node.item, registry)]  # type: ignore[misc]
    if isinstance(node, SetOf):
        return set[annotation(node.item, registry)]  # type: ignore[misc]
    if isinstance(node, TupleOf):
        items = tuple(annotation(t, registry) for t in node.items)
        return tuple[items[0], ...] if node.variadic else tuple[items]  # type: ignore[valid-type]
    if isinstance(node, DspyType):
        return DSPY_CLASSES[node.name] if node.language is None else code_class(node.language)
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


def build_signature(text: str, instructions: str | None) -> type[dspy.Signature]:
    """The ``dspy.Signature`` for ``text`` (memoised per text, instructions and registry version).

    Raises BadRequest naming ``signature`` when the grammar refuses the text or it has no output field.
    """
    if instructions is not None and len(instructions) > MEMO_MAX_INSTRUCTIONS:
        return to_dspy(check_signature(text, "signature"), instructions)
    return _build(text, instructions, type_registry.version())


@functools.lru_cache(maxsize=512)
def _build(text: str, instructions: str | None, _registry_version: int) -> type[dspy.Signature]:
    return to_dspy(check_signature(text, "signature"), instructions)


# Instructions past this size are not memoised (each entry keeps its text alive).
MEMO_MAX_INSTRUCTIONS = 8192


def to_dspy(parsed: ParsedSignature, instructions: str | None) -> type[dspy.Signature]:
    """``dspy.Signature(fields, instructions)`` from a parsed signature: a dict of real annotations."""
    registry = type_registry.registered_types()
    fields = {spec.name: _field(spec, registry) for spec in (*parsed.inputs, *parsed.outputs)}
    return typing.cast(type[dspy.Signature], dspy.Signature(fields, instructions))
