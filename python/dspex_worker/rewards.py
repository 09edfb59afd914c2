"""Reward functions for ``BestOfN`` and ``Refine``, named in a request's ``options.reward``.

Two kinds, nothing else (no code travels on the wire):

- ``{"kind": "builtin", "name": ..., "field": ..., "value"?: ...}``: one of :data:`BUILTINS`, scoring
  one output field: ``non_empty`` (1.0 when the field is a non-blank string or a non-empty value),
  ``exact_match`` (1.0 when the field, as text with surrounding blanks removed, equals ``value``),
  ``contains`` (1.0 when the field's text contains ``value``, case-insensitively). Otherwise 0.0.
- ``{"kind": "tool", "name": ...}``: a reward function written in TypeScript and served by a runtime
  node on ``<prefix>.tool.<name>`` like a ReAct tool; it receives ``{inputs, outputs}`` and returns a
  number. A failing or silent reward function fails that attempt (DSPy's ``fail_count`` applies).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .codec import to_plain
from .errors import BadRequest, field_error, quote, type_name
from .protocol import is_tool_name
from .tools import ToolBridge, ToolCallError

BUILTINS = ("non_empty", "exact_match", "contains")
_NEEDS_VALUE = ("exact_match", "contains")
# Call keyword arguments that are not the program's inputs.
_NOT_INPUTS = ("demos", "config")


@dataclass(frozen=True)
class RewardSpec:
    """A checked ``options.reward``; hashable, so it can be part of a module cache key."""

    kind: str
    name: str
    field: str | None = None
    value: str | None = None


def parse_reward(value: object, output_fields: list[str]) -> RewardSpec:
    """Check ``options.reward`` against the signature's output fields (400 naming the field)."""
    if not isinstance(value, Mapping):
        raise field_error(BadRequest, "options.reward", f"must be a map, got {type_name(value)}")
    kind = value.get("kind")
    name = value.get("name")
    if kind == "tool":
        if not is_tool_name(name):
            raise field_error(BadRequest, "options.reward.name", "must be 1-64 letters, digits, '_' or '-'")
        extra = set(value) - {"kind", "name"}
        if extra:
            raise field_error(BadRequest, f"options.reward.{sorted(extra)[0]}", "is not a tool reward option")
        assert isinstance(name, str)
        return RewardSpec(kind="tool", name=name)
    if kind != "builtin":
        raise field_error(BadRequest, "options.reward.kind", f'must be "builtin" or "tool", got {quote(kind)}')
    if name not in BUILTINS:
        raise field_error(BadRequest, "options.reward.name", f"must be one of {', '.join(BUILTINS)}, got {quote(name)}")
    assert isinstance(name, str)
    field = value.get("field")
    if not isinstance(field, str) or field not in output_fields:
        raise field_error(BadRequest, "options.reward.field",
                          f"must name an output field ({', '.join(output_fields)}), got {quote(field)}")
    wanted = value.get("value")
    if name in _NEEDS_VALUE and not isinstance(wanted, str):
        raise field_error(BadRequest, "options.reward.value", f"is required for {name} (a string)")
    if name not in _NEEDS_VALUE and wanted is not None:
        raise field_error(BadRequest, "options.reward.value", f"is not used by {name}")
    extra = set(value) - {"kind", "name", "field", "value"}
    if extra:
        raise field_error(BadRequest, f"options.reward.{sorted(extra)[0]}", "is not a builtin reward option")
    return RewardSpec(kind="builtin", name=name, field=field, value=wanted if isinstance(wanted, str) else None)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(to_plain(value))


def builtin_reward(spec: RewardSpec) -> Callable[[dict[str, Any], Any], float]:
    field = spec.field or ""
    wanted = spec.value or ""
    if spec.name == "non_empty":

        def non_empty(args: dict[str, Any], pred: Any) -> float:
            value = pred.get(field)
            if isinstance(value, str):
                return 1.0 if value.strip() else 0.0
            return 1.0 if value not in (None, [], {}) else 0.0

        return non_empty
    if spec.name == "exact_match":

        def exact_match(args: dict[str, Any], pred: Any) -> float:
            return 1.0 if _text(pred.get(field)).strip() == wanted.strip() else 0.0

        return exact_match

    def contains(args: dict[str, Any], pred: Any) -> float:
        return 1.0 if wanted.lower() in _text(pred.get(field)).lower() else 0.0

    return contains


class ToolReward:
    """A reward function served on ``<prefix>.tool.<name>``; called from DSPy's worker thread."""

    def __init__(self, bridge: ToolBridge, name: str) -> None:
        self.bridge = bridge
        self.name = name

    def __call__(self, args: dict[str, Any], pred: Any) -> float:
        inputs = {k: v for k, v in args.items() if k not in _NOT_INPUTS}
        result = self.bridge.call_sync(self.name, {"inputs": inputs, "outputs": dict(pred.items())})
        if isinstance(result, bool) or not isinstance(result, int | float):
            raise ToolCallError(f"reward {self.name} returned {type_name(result)}, expected a number")
        return float(result)


def reward_function(spec: RewardSpec, bridge: ToolBridge) -> Callable[[dict[str, Any], Any], float]:
    if spec.kind == "tool":
        return ToolReward(bridge, spec.name)
    return builtin_reward(spec)
