"""DSPy modules a worker can run, built once per (module, signature, instructions) and kept in an LRU.

Also checks a call's ``inputs`` against the signature DSPy parsed, so that a bad input is a 422 with
the field named instead of a confusing LM or adapter failure later.
"""

from __future__ import annotations

import types
import typing
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dspy

from .errors import BadRequest, NotFound, ValidationFailed, field_error
from .protocol import type_name

REGISTRY: dict[str, type[dspy.Module]] = {
    "Predict": dspy.Predict,
    "ChainOfThought": dspy.ChainOfThought,
}


@dataclass(frozen=True)
class Built:
    """A ready module and the signature it was built from."""

    module: dspy.Module
    signature: type[dspy.Signature]


class ModuleCache:
    """Bounded LRU of built modules; parsing a signature and building a module happen once per key."""

    def __init__(self, max_entries: int = 256) -> None:
        self._max = max_entries
        self._items: OrderedDict[tuple[str, str, str | None], Built] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, module: str, signature: str, instructions: str | None) -> Built:
        key = (module, signature, instructions)
        hit = self._items.get(key)
        if hit is not None:
            self._items.move_to_end(key)
            return hit
        built = build(module, signature, instructions)
        self._items[key] = built
        if len(self._items) > self._max:
            self._items.popitem(last=False)
        return built


def parse_signature(signature: str, instructions: str | None) -> type[dspy.Signature]:
    """Parse with DSPy's own parser (an AST walk, nothing is evaluated)."""
    try:
        sig = dspy.Signature(signature, instructions)
    except (SyntaxError, ValueError, TypeError, NameError, AttributeError) as exc:
        raise BadRequest(f"signature: DSPy cannot parse {signature!r}: {exc}", details={"field": "signature"}) from exc
    if not sig.output_fields:
        raise BadRequest(f"signature: {signature!r} has no output field", details={"field": "signature"})
    return typing.cast(type[dspy.Signature], sig)


def build(module: str, signature: str, instructions: str | None) -> Built:
    cls = REGISTRY.get(module)
    if cls is None:
        raise NotFound(
            f"unknown module {module!r} (known: {', '.join(REGISTRY)})", details={"field": "module"}
        )
    sig = parse_signature(signature, instructions)
    return Built(module=cls(sig), signature=sig)


# --- input checks -----------------------------------------------------------------------------

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
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(a) for a in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (list, tuple, set) and args:
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
    if origin in (typing.Union, types.UnionType):
        return any(matches(value, a) for a in args)
    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if origin in (list, set) or (origin is tuple and len(args) == 2 and args[1] is Ellipsis):
        return isinstance(value, list | tuple) and all(matches(v, args[0]) for v in value)
    if origin is tuple:
        return isinstance(value, list | tuple) and len(value) == len(args) and all(
            matches(v, a) for v, a in zip(value, args, strict=True)
        )
    if origin is dict:
        return isinstance(value, Mapping) and (len(args) < 2 or all(matches(v, args[1]) for v in value.values()))
    return True


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
        kwargs[name] = value
    return kwargs
