"""Process start-up: import DSPy once, warm it up, and configure it for serving.

Importing DSPy and litellm costs seconds of CPU; doing it (and one call of each module) before a
worker announces itself, or before a zygote forks, keeps the first real call fast.
"""

from __future__ import annotations

import logging
import os
import time

from .measurements import MEASUREMENTS, lm_callback
from .tracing import configure_tracing

log = logging.getLogger(__name__)


def import_dspy() -> None:
    """Import DSPy and litellm with no network use (litellm would fetch a price list)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    started = time.monotonic()
    import dspy
    import litellm  # noqa: F401 - DSPy imports it lazily on first use; pay for it now

    dspy.configure_cache(
        enable_disk_cache=False,
        enable_memory_cache=os.environ.get("DSPEX_MEMORY_CACHE", "1") not in ("0", "false", "False"),
        memory_max_entries=int(os.environ.get("DSPEX_MEMORY_CACHE_ENTRIES", "10000")),
    )
    log.info("imported dspy %s and litellm in %.1fs", dspy.__version__, time.monotonic() - started)


def warm_up() -> None:
    """The per-call validators compiled, then one Predict and one ChainOfThought call through the dummy
    LM, in-process and blocking."""
    from .lm import DUMMY, LmChooser
    from .protocol import PredictCall, compile_worker_validators
    from .runner import Runner

    started = time.monotonic()
    compile_worker_validators()
    runner = Runner(LmChooser(DUMMY))
    for module in ("Predict", "ChainOfThought"):
        call = PredictCall(module=module, signature="question: str -> answer: str", inputs={"question": "warm-up"})
        runner.run_sync(runner.prepare(call))
    log.info("warmed up in %.2fs", time.monotonic() - started)


def configure_for_serving() -> None:
    """The one ``dspy.configure`` of a serving process, from its main thread (after any fork)."""
    import dspy

    # No LM here: every call picks its own with dspy.context (see lm.LmChooser).
    MEASUREMENTS.reset()
    MEASUREMENTS.watch_gc()
    configure_tracing()  # after any fork: the exporter's thread must belong to this process
    dspy.configure(disable_history=True, track_usage=True, callbacks=[lm_callback()])
