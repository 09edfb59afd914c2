"""In-process baseline for ``bench/scenarios/overhead.ts``: the worker's DSPy Predict without NATS.

Builds the module and the dummy LM exactly as a dspex worker does (``dspex_worker`` start-up, its
``Runner``, ``LmChooser("dummy")`` and ``ModuleCache``; one ``prepare`` and one ``run`` per call,
under a deadline as the worker runs it) and times the calls on one asyncio loop, as the worker
serves them.

Driven by JSON lines on stdin so the caller can interleave its own measurements with ours; one JSON
line answers each command on stdout (raw samples in milliseconds: the caller computes percentiles
with the same code it uses for its own numbers):

- on start-up, unprompted: ``{"ready": true, "startup_ms": …, "dspy_version": …}``
- ``{"op": "latency", "warmup": W, "iterations": N}`` → W discarded, then N sequential calls:
  ``{"samples_ms": [...]}``
- ``{"op": "load", "concurrency": C, "calls": N, "seconds": S}`` → a closed loop of C tasks until N
  calls or S seconds: ``{"samples_ms": [...], "elapsed_ms": …}``

EOF on stdin ends the process. Run with the worker's interpreter, ``python/.venv/bin/python``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

from dspex_worker.bootstrap import configure_for_serving, import_dspy, warm_up
from dspex_worker.lm import DUMMY, LmChooser
from dspex_worker.protocol import PredictCall
from dspex_worker.runner import Runner

# The worker always runs a call under its Dspex-Deadline (asyncio.wait_for); so do we.
DEADLINE_S = 60.0


class Bench:
    def __init__(self, signature: str, question: str) -> None:
        self.signature = signature
        self.question = question
        self.runner = Runner(LmChooser(DUMMY))
        self.seq: Iterator[int] = itertools.count()

    async def call(self) -> None:
        # A distinct question per call, as the Node side sends.
        inputs = {"question": f"{next(self.seq)}: {self.question}"}
        call = PredictCall(module="Predict", signature=self.signature, inputs=inputs)
        outputs, _usage = await self.runner.run(self.runner.prepare(call), DEADLINE_S)
        if "answer" not in outputs:
            raise RuntimeError(f"unexpected outputs {outputs!r}")

    async def latency(self, warmup: int, iterations: int) -> dict[str, Any]:
        for _ in range(warmup):
            await self.call()
        samples: list[float] = []
        for _ in range(iterations):
            start = time.perf_counter()
            await self.call()
            samples.append((time.perf_counter() - start) * 1000)
        return {"samples_ms": samples}

    async def load(self, concurrency: int, calls: int, seconds: float) -> dict[str, Any]:
        samples: list[float] = []
        started = 0
        begin = time.perf_counter()
        stop_at = begin + seconds

        async def lane() -> None:
            nonlocal started
            while started < calls and time.perf_counter() < stop_at:
                started += 1
                t0 = time.perf_counter()
                await self.call()
                samples.append((time.perf_counter() - t0) * 1000)

        await asyncio.gather(*(lane() for _ in range(concurrency)))
        return {"samples_ms": samples, "elapsed_ms": (time.perf_counter() - begin) * 1000}


def emit(value: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


async def serve(bench: Bench) -> None:
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        if not line.strip():
            continue
        cmd = json.loads(line)
        op = cmd.get("op")
        if op == "latency":
            emit(await bench.latency(int(cmd["warmup"]), int(cmd["iterations"])))
        elif op == "load":
            emit(await bench.load(int(cmd["concurrency"]), int(cmd["calls"]), float(cmd["seconds"])))
        else:
            emit({"error": f"unknown op {op!r}"})


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--signature", default="question -> answer")
    p.add_argument("--question", default="What is the capital of France?")
    args = p.parse_args(argv)
    started = time.perf_counter()
    # The worker's own start-up, in its order: import and warm DSPy, then configure for serving.
    import_dspy()
    warm_up()
    configure_for_serving()
    import dspy

    emit({"ready": True, "startup_ms": (time.perf_counter() - started) * 1000, "dspy_version": dspy.__version__})
    asyncio.run(serve(Bench(args.signature, args.question)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
