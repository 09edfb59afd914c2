"""DSPy's thread hops per ``Predict.acall``, and what running them inline would save (docs/benchmarks.md).

``Predict.acall`` on a native ``dspy.LM`` (DSPy 3.4, lm15 engine) sends short CPU steps through
``asyncio.to_thread``: the adapter's ``capabilities``, ``prepare``, ``_cached``, the engine's
``_target``, then ``_price_result`` and ``_store``. This script counts them and measures CPU per call
with asyncio's default thread pool beside an executor that runs the listed functions in the loop's
thread, interleaved in one process (rounds alternate the order; the first round is warm-up).

    DSPEX_LM_API_BASE=http://127.0.0.1:PORT/v1 DSPEX_LM_API_KEY=x \\
      python/.venv/bin/python bench/python/dspy_thread_hops.py --concurrency 20 --seconds 2 --rounds 7 \\
      [--only prepare,_cached]

with an OpenAI-compatible server answering at that address (``npx tsx bench/lib/lm-server-main.ts``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)

# DSPy's per-call helpers that asyncio.to_thread receives, by module: CPU only, no blocking I/O.
INLINE_NAMES = {
    "dspy.clients.execution": ("prepare", "_cached", "_price_legacy", "_price_result", "_store"),
    "dspy.clients.capabilities": ("capabilities",),
    "dspy.clients.engines.lm15_engine": ("_Routing._target",),
}
MAX_THREADS = 256

Inline = Callable[[Any], bool]


def _always(_target: Any) -> bool:
    return True


def _provider_built(target: Any) -> bool:
    """``_Routing._target`` bound to an engine that already built its provider client(s)."""
    return bool(getattr(getattr(target, "__self__", None), "_providers", None))


def dspy_inline_functions() -> dict[Callable[..., Any], Inline]:
    """The functions of :data:`INLINE_NAMES` this DSPy has, each with when it may run inline."""
    import importlib

    found: dict[Callable[..., Any], Inline] = {}
    missing: list[str] = []
    for module_name, names in INLINE_NAMES.items():
        try:
            module: Any = importlib.import_module(module_name)
        except ImportError:
            missing += [f"{module_name}.{n}" for n in names]
            continue
        for name in names:
            fn = module
            for part in name.split("."):
                fn = getattr(fn, part, None)
            if callable(fn):
                found[fn] = _provider_built if name.endswith("._target") else _always
            else:
                missing.append(f"{module_name}.{name}")
    if missing:
        log.info("DSPy has no %s: those thread hops stay threads", ", ".join(missing))
    return found


class HopFreeExecutor(ThreadPoolExecutor):
    """A thread pool that runs the listed functions inline (``to_thread`` passes ``partial(ctx.run, fn, …)``)."""

    def __init__(self, inline: dict[Callable[..., Any], Inline], max_workers: int) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="dspex-blocking")
        self.inline = inline
        self.inlined = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        target = fn.args[0] if isinstance(fn, functools.partial) and fn.args else None
        try:
            when = self.inline.get(getattr(target, "__func__", target)) if target is not None else None
        except TypeError:  # an unhashable callable: not one of ours
            when = None
        if when is not None and when(target):
            self.inlined += 1
            done: Future[Any] = Future()
            try:
                done.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine, as a thread would
                done.set_exception(exc)
            return done
        return super().submit(fn, *args, **kwargs)


def executor_for(concurrency: int) -> HopFreeExecutor:
    """The default executor of a worker that runs ``concurrency`` calls at once."""
    return HopFreeExecutor(dspy_inline_functions(), max_workers=max(4, min(concurrency, MAX_THREADS)))


def main() -> int:
    import argparse
    import asyncio
    import collections
    import itertools
    import time
    from concurrent.futures import ThreadPoolExecutor

    from dspex_worker.bootstrap import configure_for_serving, import_dspy
    from dspex_worker.lm import build_lm

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--only", default=None, help="inline only these function names (comma-separated)")
    args = p.parse_args()
    import_dspy()
    configure_for_serving()
    import dspy

    lm = build_lm("openai/bench-model")
    predict = dspy.Predict("question -> answer")
    seq = itertools.count()
    inline = executor_for(args.concurrency)
    if args.only:
        inline.inline = {f: w for f, w in inline.inline.items() if f.__name__ in args.only.split(",")}
    hops: collections.Counter[str] = collections.Counter()

    class Counting(ThreadPoolExecutor):
        def submit(self, fn: Callable[..., Any], /, *a: Any, **k: Any) -> Any:
            target = fn.args[0] if isinstance(fn, functools.partial) and fn.args else fn
            hops[getattr(target, "__qualname__", repr(target))] += 1
            return super().submit(fn, *a, **k)

    executors: dict[str, ThreadPoolExecutor] = {"threads": Counting(), "inline": inline}
    totals = {k: [0, 0.0, 0.0] for k in executors}

    async def run() -> None:
        loop = asyncio.get_running_loop()

        async def lane(stop: float, out: list[float]) -> None:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                await predict.acall(question=f"{next(seq)}: q")
                out.append(time.perf_counter() - t0)

        with dspy.context(lm=lm):
            for r in range(args.rounds):
                if r == 1:
                    hops.clear()  # round 0 is warm-up
                for name in ("threads", "inline") if r % 2 == 0 else ("inline", "threads"):
                    loop.set_default_executor(executors[name])
                    out: list[float] = []
                    cpu, wall = time.process_time(), time.perf_counter()
                    await asyncio.gather(*(lane(time.perf_counter() + args.seconds, out)
                                           for _ in range(args.concurrency)))
                    if r > 0:
                        t = totals[name]
                        t[0] += len(out)
                        t[1] += time.process_time() - cpu
                        t[2] += time.perf_counter() - wall

    asyncio.run(run())
    calls = totals["threads"][0]
    print("inlined:", sorted(f.__name__ for f in inline.inline))
    print("hops per call (threads):", {k: round(v / max(calls, 1), 2) for k, v in hops.items()})
    for name, (n, cpu, wall) in totals.items():
        print(f"{name}: {n} calls, CPU {cpu / n * 1000:.3f} ms per call, {n / wall:.1f} calls/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
