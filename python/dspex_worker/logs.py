"""Logging to stderr, one line per event, every line tagged with the process's worker id."""

from __future__ import annotations

import logging
import os
import sys


def configure_logging(label: str) -> None:
    level = os.environ.get("DSPEX_LOG_LEVEL", "INFO").upper()
    handler = logging.StreamHandler(sys.stderr)
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
