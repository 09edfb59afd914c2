"""Run one worker in the current process until it stops (after any fork, from the main thread)."""

from __future__ import annotations

import asyncio
import logging
import os

from .bootstrap import configure_for_serving
from .lm import LmChooser
from .runner import Runner
from .worker import Worker, WorkerOptions

log = logging.getLogger(__name__)


def serve(opts: WorkerOptions) -> int:
    """Configure DSPy for serving and run the worker's event loop; returns the exit code."""
    configure_for_serving()
    if (devices := os.environ.get("CUDA_VISIBLE_DEVICES")) is not None:
        log.info("devices: CUDA_VISIBLE_DEVICES=%s", devices)  # the pool's `devices` (docs/configuration.md)
    chooser = LmChooser(opts.lm)
    if chooser.is_dummy:
        log.warning("LM is 'dummy': answering with DSPy's DummyLM (deterministic made-up outputs, no model)")
    delay_ms = int(os.environ.get("DSPEX_DUMMY_DELAY_MS", "0") or 0)
    fail_rate = float(os.environ.get("DSPEX_DUMMY_FAIL_RATE", "0") or 0)
    runner = Runner(chooser, dummy_delay_ms=delay_ms, dummy_fail_rate=fail_rate, concurrency=opts.concurrency)
    try:
        return asyncio.run(Worker(opts, runner).run())
    except (OSError, TimeoutError) as exc:
        log.error("worker failed: %s", exc)
        return 1
    except Exception as exc:
        if type(exc).__module__.startswith("nats"):
            log.error("worker failed: NATS %s: %s", type(exc).__name__, exc)
            return 1
        raise
