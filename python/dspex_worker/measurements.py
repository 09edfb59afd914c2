"""The worker's own measurements, sent to the node in every heartbeat (``metrics``, docs/telemetry.md).

Cumulative since the worker started (the node exports them as Prometheus counters with the worker's
labels, so rates come from differences, and a missed heartbeat loses nothing):

- ``calls``: predict calls by outcome (``ok`` or the error code), and the seconds spent in DSPy
  (``dspy_seconds``: from the call entering the runner to its prediction, LM calls included);
- ``lm``: per model (``openai/gpt-4o-mini``, ``dummy``...): LM calls, failed ones, their seconds,
  prompt and completion tokens (from DSPy's ``track_usage``);
- ``gc``: collections per generation and the seconds they took (``gc.callbacks``).

The DSPy callback (:func:`lm_callback`) also opens an OpenTelemetry span per LM call (``dspex.lm``,
with the model), a child of the call's span when tracing is on (``tracing.py``).

RSS is the heartbeat's own ``rss_bytes``. At most ``MAX_MODELS`` models and ``MAX_OUTCOMES`` outcomes
are kept (the rest counted under ``other``), so the heartbeat stays small whatever the calls name.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace

MAX_MODELS = 32
MAX_OUTCOMES = 32
OTHER = "other"


class Measurements:
    """Thread-safe counters (sync DSPy modules run in threads; LM callbacks fire there)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._outcomes: dict[str, int] = {}
        self._dspy_seconds = 0.0
        self._lm: dict[str, dict[str, float]] = {}
        self._lm_started: dict[str, tuple[str, float]] = {}
        self._gc_seconds = 0.0
        self._gc_started: float | None = None

    def call(self, outcome: str, dspy_seconds: float) -> None:
        """One finished predict: its outcome and the seconds it spent in DSPy."""
        with self._lock:
            key = outcome if outcome in self._outcomes or len(self._outcomes) < MAX_OUTCOMES else OTHER
            self._outcomes[key] = self._outcomes.get(key, 0) + 1
            self._dspy_seconds += max(0.0, dspy_seconds)

    def usage(self, per_lm: Any) -> None:
        """Tokens of one call, per model, from ``Prediction.get_lm_usage()``."""
        if not isinstance(per_lm, Mapping):
            return
        with self._lock:
            for model, usage in per_lm.items():
                if not isinstance(usage, Mapping):
                    continue
                entry = self._model(str(model))
                for key in ("prompt_tokens", "completion_tokens"):
                    value = usage.get(key)
                    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
                        entry[key] += value

    def lm_start(self, call_id: str, model: str) -> None:
        with self._lock:
            if len(self._lm_started) < 10_000:
                self._lm_started[call_id] = (model, time.monotonic())

    def lm_end(self, call_id: str, failed: bool) -> None:
        with self._lock:
            started = self._lm_started.pop(call_id, None)
            if started is None:
                return
            model, at = started
            entry = self._model(model)
            entry["calls"] += 1
            entry["errors"] += 1 if failed else 0
            entry["seconds"] += time.monotonic() - at

    def reset(self) -> None:
        """Forget everything (a forked worker starts from zero, not from its parent's warm-up)."""
        with self._lock:
            self._outcomes.clear()
            self._dspy_seconds = 0.0
            self._lm.clear()
            self._lm_started.clear()
            self._gc_seconds = 0.0

    def _model(self, model: str) -> dict[str, float]:
        key = model if model in self._lm or len(self._lm) < MAX_MODELS else OTHER
        entry = self._lm.get(key)
        if entry is None:
            entry = self._lm[key] = dict.fromkeys(
                ("calls", "errors", "seconds", "prompt_tokens", "completion_tokens"), 0.0
            )
        return entry

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self._gc_started is not None:
            self._gc_seconds += time.perf_counter() - self._gc_started
            self._gc_started = None

    def watch_gc(self) -> None:
        """Time garbage collections (once per process)."""
        if self._on_gc not in gc.callbacks:
            gc.callbacks.append(self._on_gc)

    def snapshot(self) -> dict[str, Any]:
        """The heartbeat's ``metrics`` field."""
        with self._lock:
            return {
                "calls": dict(self._outcomes),
                "dspy_seconds": round(self._dspy_seconds, 6),
                "lm": {model: {k: round(v, 6) for k, v in e.items()} for model, e in self._lm.items()},
                "gc": {
                    "collections": [int(s.get("collections", 0)) for s in gc.get_stats()],
                    "seconds": round(self._gc_seconds, 6),
                },
            }


MEASUREMENTS = Measurements()
"""The process's measurements (a worker is one process; a forked child starts from the parent's copy)."""


def lm_callback() -> Any:
    """A DSPy callback timing every LM call per model into :data:`MEASUREMENTS`."""
    from dspy.utils.callback import BaseCallback

    tracer = trace.get_tracer("dspex_worker")
    spans: dict[str, trace.Span] = {}

    class LmTiming(BaseCallback):  # type: ignore[misc]
        def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
            model = str(getattr(instance, "model", "unknown"))
            MEASUREMENTS.lm_start(call_id, model)
            if len(spans) < 10_000:  # a child of the call's span (contextvars reach to_thread)
                spans[call_id] = tracer.start_span(
                    "dspex.lm", kind=trace.SpanKind.CLIENT,
                    attributes={"gen_ai.request.model": model, "gen_ai.system": model.split("/")[0]},
                )

        def on_lm_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
            MEASUREMENTS.lm_end(call_id, exception is not None)
            span = spans.pop(call_id, None)
            if span is not None:
                if exception is not None:
                    span.set_status(trace.StatusCode.ERROR, str(exception)[:200])
                span.end()

    return LmTiming()
