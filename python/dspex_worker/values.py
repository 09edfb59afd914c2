"""Checks of wire values against a signature's annotations: a call's ``inputs`` and the ``demos`` it
(or its program state) carries, so that a bad value is a 422 naming the field instead of a confusing
LM or adapter failure later (DSPy's prompt formatting raises on, e.g., a list of nulls in a text field).
Values of DSPy's own types (``dspy.Image``, ``dspy.History``, ...) arrive in their wire forms
(:mod:`.dspy_values`) and are handed to the module as real DSPy objects.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import dspy

from . import dspy_values
from .errors import ValidationFailed, field_error
from .protocol import type_name
from .signature_types import literal_equal

_NONE = type(None)


def _is_optional(ann: Any) -> bool:
    return typing.get_origin(ann) in (typing.Union, types.UnionType) and _NONE in typing.get_args(ann)


def describe(ann: Any) -> str:
    """The wire name of what an annotation accepts, e.g. ``list of string``."""
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    simple = {str: "string", int: "integer", float: "number", bool: "boolean", list: "list", dict: "map",
              _NONE: "null", tuple: "list"}
    if ann in simple:
        return simple[ann]
    dspy_name = dspy_values.name_of(ann)
    if dspy_name is not None:
        return dspy_values.DESCRIPTIONS[dspy_name]
    if origin is set and args:
        return f"list of distinct {describe(args[0])}"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(a) for a in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (list, tuple) and args:
        return f"list of {describe(args[0])}"
    if origin is dict:
        return "map"
    return getattr(ann, "__name__", str(ann))


def matches(value: Any, ann: Any) -> bool:
    """Whether a decoded wire value fits a DSPy field annotation (unknown annotations accept anything)."""
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if ann is typing.Any:
        return True
    if ann is _NONE:
        return value is None
    if ann is str:
        return isinstance(value, str)
    if ann is bool:
        return isinstance(value, bool)
    if ann is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if ann is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if ann in (list, tuple, set):
        return isinstance(value, list | tuple)
    if ann is dict:
        return isinstance(value, Mapping)
    dspy_name = dspy_values.name_of(ann)
    if dspy_name is not None:
        return dspy_values.fits(dspy_name, value)
    if origin is set:
        return (isinstance(value, list | tuple) and all(matches(v, args[0]) for v in value)
                and len({_member_key(v) for v in value}) == len(value))
    if origin in (typing.Union, types.UnionType):
        return any(matches(value, a) for a in args)
    if origin is typing.Literal:
        # JSON values: one number type (a Literal[2**53 * 1.0] arrives as the integer), True is not 1.
        return any(literal_equal(value, a) for a in args)
    if origin in (list, set) or (origin is tuple and len(args) == 2 and args[1] is Ellipsis):
        return isinstance(value, list | tuple) and all(matches(v, args[0]) for v in value)
    if origin is tuple:
        return isinstance(value, list | tuple) and len(value) == len(args) and all(
            matches(v, a) for v, a in zip(value, args, strict=True)
        )
    if origin is dict:
        return isinstance(value, Mapping) and (len(args) < 2 or all(matches(v, args[1]) for v in value.values()))
    return True


def _member_key(value: Any) -> str:
    """A set member's identity as JSON has it (one number type: ``1`` and ``1.0`` are one member)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_member_key(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(k)}:{_member_key(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def _has_dspy_type(ann: Any) -> bool:
    return dspy_values.name_of(ann) is not None or any(_has_dspy_type(a) for a in typing.get_args(ann))


def to_module_value(value: Any, ann: Any) -> Any:
    """A checked wire value as the module gets it: DSPy objects for DSPy's types, anything else as is."""
    if value is None or not _has_dspy_type(ann):
        return value
    if dspy_values.name_of(ann) is not None:
        return dspy_values.to_dspy(ann, value)
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin in (typing.Union, types.UnionType):
        member = next((a for a in args if matches(value, a)), None)
        return value if member is None else to_module_value(value, member)
    if origin in (list, set) or (origin is tuple and len(args) == 2 and args[1] is Ellipsis):
        return [to_module_value(v, args[0]) for v in value]
    if origin is tuple:
        return [to_module_value(v, a) for v, a in zip(value, args, strict=True)]
    if origin is dict:
        return {k: to_module_value(v, args[1]) for k, v in value.items()}
    return value


def check_inputs(sig: type[dspy.Signature], inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Return the keyword arguments for the module call, or raise 422 naming the first bad field."""
    fields = sig.input_fields
    for name in inputs:
        if name not in fields:
            raise field_error(
                ValidationFailed, f"inputs.{name}",
                f"unknown input field (the signature's inputs are: {', '.join(fields) or 'none'})",
            )
    kwargs: dict[str, Any] = {}
    for name, info in fields.items():
        ann = info.annotation
        if name not in inputs or inputs[name] is None:
            if _is_optional(ann) or ann is typing.Any:
                kwargs[name] = None
                continue
            if name not in inputs:
                raise field_error(ValidationFailed, f"inputs.{name}", f"is required ({describe(ann)})")
        value = inputs[name]
        if not matches(value, ann):
            raise field_error(
                ValidationFailed, f"inputs.{name}", f"expected {describe(ann)}, got {type_name(value)}"
            )
        kwargs[name] = to_module_value(value, ann)
    return kwargs


def _demo_value_ok(value: Any, ann: Any) -> bool:
    """A demo value fits a field when it has the field's type, is text (as an LM writes it), or is absent."""
    return value is None or isinstance(value, str) or matches(value, ann)


def check_demos(sig: type[dspy.Signature], demos: Sequence[Any], path: str) -> None:
    """422 naming ``<path>.<i>.<field>`` for a demo value that does not fit its field's type.

    Keys that are not fields of the signature are left alone (DSPy ignores them, ``augmented`` …).
    """
    for i, demo in enumerate(demos):
        if not isinstance(demo, Mapping):
            continue
        for name, info in sig.fields.items():
            if name in demo and not _demo_value_ok(demo[name], info.annotation):
                wanted = describe(info.annotation)
                wanted = wanted if wanted == "string" else f"{wanted} or text"
                raise field_error(ValidationFailed, f"{path}.{i}.{name}",
                                  f"expected {wanted}, got {type_name(demo[name])}")


def demo_values(sig: type[dspy.Signature], demos: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Checked demos as the module gets them: a value of a DSPy-typed field in its wire form becomes the
    DSPy object (an image demo shows as an image); text and other keys stay as they are."""
    out: list[dict[str, Any]] = []
    for demo in demos:
        converted = dict(demo)
        for name, info in sig.fields.items():
            if name in demo and _has_dspy_type(info.annotation) and matches(demo[name], info.annotation):
                converted[name] = to_module_value(demo[name], info.annotation)
        out.append(converted)
    return out
