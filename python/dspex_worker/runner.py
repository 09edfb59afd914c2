"""Runs one checked ``predict`` call through DSPy and shapes the reply's outputs and usage."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import dspy

from .codec import to_plain
from .errors import DeadlineExceeded
from .lm import LmChooser
from .modules import Built, ModuleCache, check_inputs
from .protocol import PredictCall

MODULE_CONFIG_KEYS = ("temperature", "max_tokens", "n", "cache")


class Prepared:
    """A call whose module is built and whose inputs matched the signature."""

    def __init__(self, built: Built, kwargs: dict[str, Any], call: PredictCall) -> None:
        self.built = built
        self.kwargs = kwargs
        self.demos = [dspy.Example(**d) for d in call.demos]
        self.config = {k: v for k, v in call.config.items() if k in MODULE_CONFIG_KEYS}
        self.lm_name: str | None = call.config.get("lm")

    def call_kwargs(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.demos:
            extra["demos"] = self.demos
        if self.config:
            extra["config"] = self.config
        return {**self.kwargs, **extra}


class Runner:
    def __init__(self, chooser: LmChooser, cache: ModuleCache | None = None, dummy_delay_ms: int = 0) -> None:
        self.chooser = chooser
        self.cache = cache or ModuleCache()
        self.dummy_delay_s = dummy_delay_ms / 1000 if chooser.is_dummy else 0.0

    def prepare(self, call: PredictCall) -> Prepared:
        """Build (or reuse) the module and check inputs; raises 400/404/422 errors."""
        built = self.cache.get(call.module, call.signature, call.instructions)
        return Prepared(built, check_inputs(built.signature, call.inputs), call)

    def _lm(self, p: Prepared) -> Any:
        return self.chooser.for_call(p.built.module, p.kwargs, p.lm_name)

    def run_sync(self, p: Prepared) -> dict[str, Any]:
        """Blocking form, for warm-up before any event loop exists."""
        lm = self._lm(p)
        with dspy.context(lm=lm) if lm is not None else contextlib.nullcontext():
            return outputs_of(p.built.module(**p.call_kwargs()))

    async def run(self, p: Prepared, timeout_s: float | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Run under an optional time bound; returns ``(outputs, usage)``."""

        async def invoke() -> Any:
            lm = self._lm(p)
            if self.dummy_delay_s:
                await asyncio.sleep(self.dummy_delay_s)
            # dspy.context is a contextvar: it stays local to this task.
            with dspy.context(lm=lm) if lm is not None else contextlib.nullcontext():
                return await p.built.module.acall(**p.call_kwargs())

        try:
            pred = await asyncio.wait_for(invoke(), timeout_s)
        except TimeoutError:
            raise DeadlineExceeded("Dspex-Deadline passed while the call was running") from None
        return outputs_of(pred), usage_of(pred)


def outputs_of(pred: Any) -> dict[str, Any]:
    plain = to_plain(dict(pred.items()))
    assert isinstance(plain, dict)
    return plain


def usage_of(pred: Any) -> dict[str, Any] | None:
    """Token counts summed over every LM the call used (``track_usage`` must be on)."""
    get = getattr(pred, "get_lm_usage", None)
    per_lm = get() if callable(get) else None
    if not isinstance(per_lm, Mapping) or not per_lm:
        return None
    total: dict[str, Any] = {}
    for usage in per_lm.values():
        if not isinstance(usage, Mapping):
            continue
        for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
            value = usage.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                total[key] = total.get(key, 0) + value
    return total or None
