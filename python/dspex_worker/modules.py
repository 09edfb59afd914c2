"""DSPy modules a worker can run, built once per :class:`ModuleSpec` (module, signature, instructions,
options, tools, state hash) and kept in an LRU. Value checks (``check_inputs``) live in ``values``.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import dspy

from .errors import BadRequest, NotFound, quote
from .module_options import ModuleSpec, parse_spec
from .protocol import PredictCall
from .rewards import reward_function
from .signatures import build_signature
from .state import apply_state, state_digest
from .tools import ToolBridge
from .type_registry import version as registry_version

MODULES = ("Predict", "ChainOfThought", "ReAct", "MultiChainComparison", "BestOfN", "Refine")
# DSPy modules with a native ``acall``; the others run in a worker thread (see runner.Runner).
ASYNC_MODULES = ("Predict", "ChainOfThought", "ReAct")


@dataclass(frozen=True)
class Built:
    """A ready module and the signature it was built from."""

    module: dspy.Module
    signature: type[dspy.Signature]
    spec: ModuleSpec | None = None

    @property
    def is_async(self) -> bool:
        return self.spec is None or self.spec.module in ASYNC_MODULES


class MultiChain(dspy.Module):  # type: ignore[misc]  # dspy is untyped
    """``MultiChainComparison`` when the caller sends no completions: ChainOfThought runs M times first.

    Each attempt is a separate rollout (``rollout_id`` i, temperature 1.0, as DSPy's BestOfN does), so a
    real LM gives M different chains. The state is the comparison's (``{"predict": …}``, as DSPy's own
    ``MultiChainComparison`` dumps it), so a state saved either way fits.
    """

    def __init__(self, sig: type[dspy.Signature], m: int) -> None:
        super().__init__()
        self.attempt = dspy.ChainOfThought(sig)
        self.compare = dspy.MultiChainComparison(sig, M=m)
        self.m = m

    def forward(self, **kwargs: Any) -> Any:
        demos = kwargs.pop("demos", None)
        config = dict(kwargs.pop("config", None) or {})
        completions = [
            self.attempt(**kwargs, config={**config, "rollout_id": i, "temperature": 1.0}) for i in range(self.m)
        ]
        extra: dict[str, Any] = {}
        if demos:
            extra["demos"] = demos
        if config:
            extra["config"] = config
        return self.compare(completions=completions, **kwargs, **extra)

    def state_target(self) -> dspy.Module:
        return self.compare


# A spec heavier than this (instructions, tool schemas, state) is built for its call and not kept:
# 256 cached modules each holding a near-1 MiB request would pin a quarter of a GiB.
CACHE_MAX_WEIGHT = 64 * 1024


class ModuleCache:
    """Bounded LRU of built modules; parsing a signature and building a module happen once per spec."""

    def __init__(self, max_entries: int = 256, bridge: ToolBridge | None = None) -> None:
        self._max = max_entries
        self._items: OrderedDict[ModuleSpec, Built] = OrderedDict()
        # Fast path: a call without options, tools, state or completions (most calls) is keyed by
        # its text alone, skipping signature lookup, state hashing and option checks once a call
        # with the same text was built through the full path.
        self._plain: dict[tuple[str, str, str | None, int], Built] = {}
        self.bridge = bridge or ToolBridge()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, module: str, signature: str, instructions: str | None) -> Built:
        """A module with default options and no state (Predict, ChainOfThought, ReAct without tools, …)."""
        known(module)
        call = PredictCall(module=module, signature=signature, inputs={}, instructions=instructions)
        if module in ("BestOfN", "Refine"):
            raise BadRequest(f"{module} needs options (N, threshold, reward)", details={"field": "options"})
        return self.for_call(call)

    def for_call(self, call: PredictCall) -> Built:
        """The module for one checked call: built, options checked and state loaded once per distinct spec."""
        plain = _plain_key(call)
        if plain is not None and (fast := self._plain.get(plain)) is not None:
            return fast
        known(call.module)
        sig = parse_signature(call.signature, call.instructions)
        digest, state_size = state_digest(call.state)
        spec = parse_spec(call, sig, digest)
        hit = self._items.get(spec)
        if hit is not None:
            self._items.move_to_end(spec)
            if plain is not None:
                self._remember_plain(plain, hit)
            return hit
        built = build(spec, sig, self.bridge)
        if call.state is not None:
            target = built.module.state_target() if isinstance(built.module, MultiChain) else built.module
            apply_state(target, call.state)
        weight = len(call.instructions or "") + sum(len(params) for _, _, params in spec.tools) + state_size
        if weight > CACHE_MAX_WEIGHT:
            return built
        self._items[spec] = built
        if len(self._items) > self._max:
            evicted = self._items.popitem(last=False)[1]
            self._plain = {k: v for k, v in self._plain.items() if v is not evicted}
        if plain is not None:
            self._remember_plain(plain, built)
        return built

    def _remember_plain(self, key: tuple[str, str, str | None, int], built: Built) -> None:
        if len(self._plain) >= self._max:
            self._plain.clear()
        self._plain[key] = built


def _plain_key(call: PredictCall) -> tuple[str, str, str | None, int] | None:
    """The fast-path key of a call whose module is fixed by its text (None: take the full path).

    ReAct with demos is refused by the full path's checks, so it never takes the fast path.
    """
    if call.options or call.tools or call.state is not None or call.completions is not None:
        return None
    if call.demos and call.module == "ReAct":
        return None
    return (call.module, call.signature, call.instructions, registry_version())


def parse_signature(signature: str, instructions: str | None) -> type[dspy.Signature]:
    """The signature of a request: the allow-list grammar, never DSPy's string parser (``signatures``)."""
    return build_signature(signature, instructions)


def known(module: str) -> None:
    if module not in MODULES:
        raise NotFound(f"unknown module {quote(module)} (known: {', '.join(MODULES)})", details={"field": "module"})


def build(spec: ModuleSpec, sig: type[dspy.Signature], bridge: ToolBridge) -> Built:
    """A DSPy module for ``spec``; only the registered modules, built from checked options."""
    module: dspy.Module
    match spec.module:
        case "Predict":
            module = dspy.Predict(sig)
        case "ChainOfThought":
            module = dspy.ChainOfThought(sig)
        case "ReAct":
            tools = [
                bridge.dspy_tool({"name": name, "description": desc, "parameters": json.loads(params)})
                for name, desc, params in spec.tools
            ]
            module = dspy.ReAct(sig, tools=tools, max_iters=spec.max_iters or 20)
        case "MultiChainComparison":
            m = spec.M or 3
            module = dspy.MultiChainComparison(sig, M=m) if spec.with_completions else MultiChain(sig, m)
        case "BestOfN" | "Refine":
            assert spec.reward is not None and spec.N is not None and spec.threshold is not None
            inner = dspy.ChainOfThought(sig) if spec.base == "ChainOfThought" else dspy.Predict(sig)
            cls = dspy.BestOfN if spec.module == "BestOfN" else dspy.Refine
            module = cls(module=inner, N=spec.N, reward_fn=reward_function(spec.reward, bridge),
                         threshold=spec.threshold, fail_count=spec.fail_count)
        case _:
            raise NotFound(f"unknown module {quote(spec.module)}", details={"field": "module"})
    return Built(module=module, signature=sig, spec=spec)
