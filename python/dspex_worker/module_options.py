"""Module-specific request fields (``options``, ``tools``, ``completions``, ``demos``) checked per module.

The result is a :class:`ModuleSpec`: everything a module is built from, hashable, so a worker builds a
module once per distinct spec (see ``modules.ModuleCache``). Errors are 400s naming the field, the same
ones the runtime node gives (``src/modules/prepare-predict.ts``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dspy

from .errors import BadRequest, field_error, quote, type_name
from .protocol import PredictCall
from .rewards import RewardSpec, parse_reward
from .tool_schema import clean_parameters

BASE_MODULES = ("Predict", "ChainOfThought")
# Which ``options`` keys each module accepts; anything else is a 400 naming it.
ALLOWED_OPTIONS: dict[str, tuple[str, ...]] = {
    "Predict": (),
    "ChainOfThought": (),
    "ReAct": ("max_iters",),
    "MultiChainComparison": ("M",),
    "BestOfN": ("N", "threshold", "reward", "fail_count", "base"),
    "Refine": ("N", "threshold", "reward", "fail_count", "base"),
}
MAX_ITERS, DEFAULT_MAX_ITERS = 50, 20
MAX_M, DEFAULT_M = 16, 3
MAX_N = 16
MAX_TOOL_DESCRIPTION = 4000


@dataclass(frozen=True)
class ModuleSpec:
    """What a module is built from; two calls with equal specs share one built module."""

    module: str
    signature: str
    instructions: str | None
    max_iters: int | None = None
    M: int | None = None
    N: int | None = None
    threshold: float | None = None
    reward: RewardSpec | None = None
    fail_count: int | None = None
    base: str | None = None
    # (name, description, parameters as canonical JSON) per tool, in request order.
    tools: tuple[tuple[str, str, str], ...] = ()
    # MultiChainComparison: the caller sends the M completions (no ChainOfThought runs here).
    with_completions: bool = False
    state_hash: str | None = None


def _int(options: Mapping[str, Any], key: str, low: int, high: int) -> int | None:
    value = options.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise field_error(BadRequest, f"options.{key}",
                          f"must be an integer from {low} to {high}, got {quote(value)}")
    return value


def _reject(call: PredictCall, field: str, why: str) -> None:
    raise field_error(BadRequest, field, f"{why} ({call.module} does not take it)")


def parse_spec(call: PredictCall, sig: type[dspy.Signature], state_hash: str | None) -> ModuleSpec:
    """Check the module-specific fields of ``call`` (whose module is known) and return its spec."""
    allowed = ALLOWED_OPTIONS[call.module]
    for key in call.options:
        if key not in allowed:
            expected = ", ".join(allowed) if allowed else "none"
            raise field_error(BadRequest, f"options.{key}",
                              f"is not an option of {call.module} (its options: {expected})")
    if call.tools and call.module != "ReAct":
        _reject(call, "tools", "only ReAct uses tools")
    if call.completions is not None and call.module != "MultiChainComparison":
        _reject(call, "completions", "only MultiChainComparison compares completions")
    spec = ModuleSpec(module=call.module, signature=call.signature, instructions=call.instructions,
                      state_hash=state_hash)
    outputs = list(sig.output_fields)
    if call.module == "ReAct":
        if call.demos:
            raise field_error(BadRequest, "demos",
                              "ReAct has two predictors; give its demos in state (react, extract.predict)")
        names = [t["name"] for t in call.tools]
        for i, name in enumerate(names):
            if name == "finish" or name in names[:i]:
                raise field_error(BadRequest, f"tools.{i}.name",
                                  f"{quote(name)} is {'reserved by ReAct' if name == 'finish' else 'listed twice'}")
        tools = tuple(
            (t["name"], (t.get("description") or "")[:MAX_TOOL_DESCRIPTION],
             json.dumps(clean_parameters(t.get("parameters") or {}), sort_keys=True))
            for t in call.tools
        )
        max_iters = _int(call.options, "max_iters", 1, MAX_ITERS) or DEFAULT_MAX_ITERS
        return ModuleSpec(**{**spec.__dict__, "max_iters": max_iters, "tools": tools})
    if call.module == "MultiChainComparison":
        m = _int(call.options, "M", 1, MAX_M) or DEFAULT_M
        if call.completions is not None:
            check_completions(call.completions, m, outputs[-1])
        return ModuleSpec(**{**spec.__dict__, "M": m, "with_completions": call.completions is not None})
    if call.module in ("BestOfN", "Refine"):
        n = _int(call.options, "N", 1, MAX_N)
        if n is None:
            raise field_error(BadRequest, "options.N", f"is required (1 to {MAX_N})")
        threshold = call.options.get("threshold")
        if not isinstance(threshold, int | float) or isinstance(threshold, bool):
            raise field_error(BadRequest, "options.threshold", f"is required (a number), got {type_name(threshold)}")
        if "reward" not in call.options:
            raise field_error(BadRequest, "options.reward", "is required ({kind: 'builtin'|'tool', name, …})")
        reward = parse_reward(call.options["reward"], outputs)
        fail_count = _int(call.options, "fail_count", 1, n)
        base = call.options.get("base", "Predict")
        if base not in BASE_MODULES:
            raise field_error(BadRequest, "options.base",
                              f"must be one of {', '.join(BASE_MODULES)}, got {quote(base)}")
        return ModuleSpec(**{**spec.__dict__, "N": n, "threshold": float(threshold), "reward": reward,
                             "fail_count": fail_count, "base": base})
    return spec


def check_completions(completions: list[dict[str, Any]], m: int, last_output: str) -> None:
    """DSPy's MultiChainComparison reads ``rationale`` (or ``reasoning``) and the last output field."""
    if len(completions) != m:
        raise field_error(BadRequest, "completions", f"has {len(completions)} entries; options.M is {m}")
    for i, c in enumerate(completions):
        reason = c.get("rationale", c.get("reasoning"))
        if not isinstance(reason, str):
            raise field_error(BadRequest, f"completions.{i}.reasoning",
                              f"is required (a string; or rationale), got {type_name(reason)}")
        if last_output not in c:
            raise field_error(BadRequest, f"completions.{i}.{last_output}", "is required (the last output field)")
