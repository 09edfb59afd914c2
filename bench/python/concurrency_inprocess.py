"""DSPy's own answer for ``bench/scenarios/concurrency.ts``: one Python process, many LM calls in flight.

The same ``Predict`` the dspex workers run, on a real ``dspy.LM`` reached through litellm (the worker's
``build_lm``: ``DSPEX_LM`` / ``DSPEX_LM_API_BASE`` / ``DSPEX_LM_API_KEY``) against the scenario's local
OpenAI-compatible server, which answers after a fixed delay. Two ways DSPy users get concurrency:

- ``threads``: ``dspy.Parallel(num_threads=C)`` over a batch (DSPy's thread pool, sync ``__call__``);
- ``acall``: C asyncio tasks in a closed loop, each awaiting ``Predict.acall``.

JSON lines on stdin, one JSON line answers each on stdout (raw samples in ms):

- on start-up, unprompted: ``{"ready": true, "startup_ms": …, "dspy_version": …}``
- ``{"op": "threads"|"acall", "concurrency": C, "seconds": S}`` → ``{"samples_ms": [...], "elapsed_ms": …}``

EOF on stdin ends the process. Run with the worker's interpreter, ``python/.venv/bin/python``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from typing import Any

from dspex_worker.bootstrap import configure_for_serving, import_dspy
from dspex_worker.lm import build_lm, resolve_name

SIGNATURE = "question -> answer"
QUESTION = "What is the capital of France?"


class Bench:
    def __init__(self) -> None:
        import dspy

        self.dspy = dspy
        self.lm = build_lm(resolve_name(None))
        self.predict = dspy.Predict(SIGNATURE)
        self.seq = itertools.count()

    def _question(self) -> str:
        return f"{next(self.seq)}: {QUESTION}"

    def _check(self, pred: Any) -> None:
        if not isinstance(pred.answer, str):
            raise RuntimeError(f"unexpected prediction {pred!r}")

    def threads(self, concurrency: int, seconds: float) -> dict[str, Any]:
        """Batches of ``dspy.Parallel`` (C threads, 2C calls each) until ``seconds`` pass."""
        samples: list[float] = []
        dspy = self.dspy

        def timed(question: str) -> None:
            t0 = time.perf_counter()
            self._check(self.predict(question=question))
            samples.append((time.perf_counter() - t0) * 1000)

        parallel = dspy.Parallel(num_threads=concurrency, disable_progress_bar=True, provide_traceback=True,
                                 max_errors=0)
        begin = time.perf_counter()
        with dspy.context(lm=self.lm):
            while time.perf_counter() - begin < seconds:
                # Two rounds of calls per batch, so most of the run keeps all C threads busy.
                batch = [(timed, {"question": self._question()}) for _ in range(2 * concurrency)]
                parallel(batch)
        return {"samples_ms": samples, "elapsed_ms": (time.perf_counter() - begin) * 1000}

    async def acall(self, concurrency: int, seconds: float) -> dict[str, Any]:
        samples: list[float] = []
        begin = time.perf_counter()
        stop_at = begin + seconds

        async def lane() -> None:
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                self._check(await self.predict.acall(question=self._question()))
                samples.append((time.perf_counter() - t0) * 1000)

        with self.dspy.context(lm=self.lm):
            await asyncio.gather(*(lane() for _ in range(concurrency)))
        return {"samples_ms": samples, "elapsed_ms": (time.perf_counter() - begin) * 1000}


def emit(value: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


async def serve(bench: Bench) -> None:
    # One event loop for the whole process: litellm keeps its async HTTP clients per loop.
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        if not line.strip():
            continue
        cmd = json.loads(line)
        op, c, s = cmd.get("op"), int(cmd.get("concurrency", 1)), float(cmd.get("seconds", 1))
        try:
            if op == "threads":
                emit(bench.threads(c, s))  # blocks this loop; nothing else runs on it meanwhile
            elif op == "acall":
                emit(await bench.acall(c, s))
            else:
                emit({"error": f"unknown op {op!r}"})
        except Exception as exc:  # noqa: BLE001 - reported to the scenario, which fails the run
            emit({"error": f"{type(exc).__name__}: {exc}"})


def main() -> int:
    started = time.perf_counter()
    import_dspy()
    configure_for_serving()
    import dspy

    bench = Bench()
    emit({"ready": True, "startup_ms": (time.perf_counter() - started) * 1000, "dspy_version": dspy.__version__})
    asyncio.run(serve(bench))
    return 0


if __name__ == "__main__":
    sys.exit(main())
