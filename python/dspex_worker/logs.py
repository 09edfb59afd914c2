"""Logging to stderr, one line per record, every line tagged with the process's worker label.

Records go out as JSON lines by default (``DSPEX_LOG_FORMAT=json``; ``text`` for people reading a
terminal, the default when stderr is one). The node parses the JSON lines into pino records with the
real level and fields (src/telemetry/python-logs.ts)::

    {"level": "warn", "msg": "...", "logger": "dspex_worker.worker", "worker": "w-1", "pid": 42,
     "trace": "4bf9...", <extra fields>, "error": {"type", "message", "stack"}}

``trace`` is the current call's trace id, set with :func:`trace_context` around a call.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

current_trace: ContextVar[str | None] = ContextVar("dspex_trace", default=None)
"""The trace id of the call being handled in this task or thread (None outside a call)."""

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is a field.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
# Keys the formatter writes itself; an ``extra`` field of the same name is renamed, not lost.
_OWN = frozenset({"level", "msg", "logger", "worker", "pid", "trace", "error", "stack"})


def pino_level(levelno: int) -> str:
    """The pino level name of a Python level number."""
    if levelno < logging.DEBUG:
        return "trace"
    if levelno < logging.INFO:
        return "debug"
    if levelno < logging.WARNING:
        return "info"
    if levelno < logging.ERROR:
        return "warn"
    if levelno < logging.CRITICAL:
        return "error"
    return "fatal"


@contextmanager
def trace_context(trace: str | None) -> Iterator[None]:
    """Tag every record logged inside the block (in this task or thread) with ``trace``."""
    token = current_trace.set(trace)
    try:
        yield
    finally:
        current_trace.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "level": pino_level(record.levelno),
            "msg": record.getMessage(),
            "logger": record.name,
            "worker": self.label,
            "pid": record.process,
        }
        trace = current_trace.get()
        if trace is not None:
            out["trace"] = trace
        for key, value in vars(record).items():
            if key in _STANDARD or key.startswith("_"):
                continue
            out[f"extra_{key}" if key in _OWN else key] = value
        if record.exc_info and record.exc_info[0] is not None:
            out["error"] = {
                "type": record.exc_info[0].__name__,
                "message": str(record.exc_info[1]),
                "stack": self.formatException(record.exc_info),
            }
        elif record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps(out, default=_jsonable, ensure_ascii=False)


def _jsonable(value: object) -> str:
    return repr(value) if not isinstance(value, str) else value


def log_format(env: dict[str, str] | None = None, isatty: bool | None = None) -> str:
    """``json`` or ``text``, from ``DSPEX_LOG_FORMAT``, else text on a terminal and JSON otherwise."""
    env = dict(os.environ) if env is None else env
    chosen = env.get("DSPEX_LOG_FORMAT", "").strip().lower()
    if chosen in ("json", "text"):
        return chosen
    return "text" if (sys.stderr.isatty() if isatty is None else isatty) else "json"


def configure_logging(label: str) -> None:
    level = os.environ.get("DSPEX_LOG_LEVEL", "INFO").upper()
    handler = logging.StreamHandler(sys.stderr)
    if log_format() == "json":
        handler.setFormatter(JsonFormatter(label))
    else:
        handler.setFormatter(logging.Formatter(
            f"%(asctime)s %(levelname)s [{label} pid=%(process)d] %(name)s: %(message)s"
        ))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # DSPy and litellm are chatty at INFO; their warnings still show.
    for name in ("LiteLLM", "litellm", "httpx", "dspy"):
        logging.getLogger(name).setLevel(logging.WARNING)
