"""Runs one checked ``predict`` call through DSPy and shapes the reply's outputs and usage."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import random
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dspy

from .codec import to_plain
from .dspy_values import to_wire
from .errors import DeadlineExceeded, LmError
from .lm import LmChooser
from .measurements import MEASUREMENTS
from .modules import Built, ModuleCache
from .protocol import PredictCall
from .tools import CallScope, current_scope
from .values import check_demos, check_inputs, demo_values

MODULE_CONFIG_KEYS = ("temperature", "max_tokens", "n", "cache")
# Threads for modules without an async form: each holds one for a whole LM call.
MAX_BLOCKING_THREADS = 256


class Prepared:
    """A call whose module is built and whose inputs matched the signature."""

    def __init__(self, built: Built, kwargs: dict[str, Any], call: PredictCall) -> None:
        self.built = built
        self.kwargs = kwargs
        self.demos = [dspy.Example(**d) for d in demo_values(built.signature, call.demos)]
        self.config = {k: v for k, v in call.config.items() if k in MODULE_CONFIG_KEYS}
        self.lm_name: str | None = call.config.get("lm")
        self.script: list[dict[str, Any]] | None = call.config.get("dummy_script")
        self.completions = call.completions

    def call_kwargs(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.demos:
            extra["demos"] = self.demos
        if self.config:
            extra["config"] = self.config
        if self.completions is not None:
            extra["completions"] = self.completions
        return {**self.kwargs, **extra}


class Runner:
    def __init__(
        self,
        chooser: LmChooser,
        cache: ModuleCache | None = None,
        dummy_delay_ms: int = 0,
        dummy_fail_rate: float = 0.0,
        concurrency: int = 4,
    ) -> None:
        self.chooser = chooser
        # Not asyncio's default pool (min(32, cpus + 4) threads, shared with DSPy's short per-call
        # hops): a BestOfN call blocks its thread for every LM round trip, so a worker running
        # `concurrency` of them needs that many threads. Threads start on demand.
        self._blocking = ThreadPoolExecutor(max_workers=max(4, min(concurrency, MAX_BLOCKING_THREADS)),
                                            thread_name_prefix="dspex-module")
        self.cache = cache or ModuleCache()
        self.dummy_delay_s = dummy_delay_ms / 1000 if chooser.is_dummy else 0.0
        # Fault injection for tests and the adaptation bench: a dummy worker that fails this share
        # of its calls with a retryable LM error, after the usual delay.
        self.dummy_fail_rate = dummy_fail_rate if chooser.is_dummy else 0.0

    def attach(self, nc: Any, prefix: str) -> None:
        """Give tool and reward callbacks the worker's NATS connection (called once connected)."""
        self.cache.bridge.attach(nc, prefix)

    def prepare(self, call: PredictCall) -> Prepared:
        """Build (or reuse) the module and check options and inputs; raises 400/404/422 errors."""
        built = self.cache.for_call(call)
        kwargs = check_inputs(built.signature, call.inputs)
        check_demos(built.signature, call.demos, "demos")
        return Prepared(built, kwargs, call)

    def _lm(self, p: Prepared) -> Any:
        return self.chooser.for_call(p.built.module, p.kwargs, p.lm_name, p.script)

    def run_sync(self, p: Prepared) -> dict[str, Any]:
        """Blocking form, for warm-up before any event loop exists."""
        lm = self._lm(p)
        with dspy.context(lm=lm) if lm is not None else contextlib.nullcontext():
            return outputs_of(_checked(p, p.built.module(**p.call_kwargs())))

    async def run(self, p: Prepared, timeout_s: float | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Run under an optional time bound; returns ``(outputs, usage)``.

        The bound is ``asyncio.timeout`` on the calling task (no extra task per call, as ``wait_for``
        made on Python 3.11); only its own expiry is a deadline error, not a ``TimeoutError`` raised
        inside the call (an LM client's own timeout).
        """
        deadline = None if timeout_s is None else time.time() + timeout_s
        # Task-local: tool callbacks of this call read its deadline from here.
        scope = current_scope.set(CallScope(deadline=deadline))
        bound = asyncio.timeout(timeout_s)
        try:
            async with bound:
                pred = await self._invoke(p)
        except TimeoutError:
            if bound.expired():
                raise DeadlineExceeded("Dspex-Deadline passed while the call was running") from None
            raise
        finally:
            current_scope.reset(scope)
        get_usage = getattr(pred, "get_lm_usage", None)
        MEASUREMENTS.usage(get_usage() if callable(get_usage) else None)
        return outputs_of(_checked(p, pred)), usage_of(pred)

    async def _invoke(self, p: Prepared) -> Any:
        lm = self._lm(p)
        if self.dummy_delay_s:
            await asyncio.sleep(self.dummy_delay_s)
        if self.dummy_fail_rate and random.random() < self.dummy_fail_rate:
            raise LmError("injected failure (DSPEX_DUMMY_FAIL_RATE)", retryable=True)
        # dspy.context is a contextvar: it stays local to this task (and to_thread copies it).
        with dspy.context(lm=lm) if lm is not None else contextlib.nullcontext():
            if p.built.is_async:
                return await p.built.module.acall(**p.call_kwargs())
            # BestOfN, Refine and MultiChainComparison have no async form in DSPy: a thread of ours,
            # in a copy of this task's context (dspy.context, the call's scope), as to_thread does.
            ctx = contextvars.copy_context()
            call = functools.partial(ctx.run, p.built.module, **p.call_kwargs())
            return await asyncio.get_running_loop().run_in_executor(self._blocking, call)


def _checked(p: Prepared, pred: Any) -> Any:
    if pred is None:  # DSPy's BestOfN/Refine return None when every attempt failed
        module = p.built.spec.module if p.built.spec else "module"
        raise LmError(f"{module}: every attempt failed (see the worker log)", retryable=False)
    return pred


def outputs_of(pred: Any) -> dict[str, Any]:
    """A prediction's fields as the reply carries them (DSPy's own types in their wire forms)."""
    plain = to_plain(to_wire(dict(pred.items())))
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
