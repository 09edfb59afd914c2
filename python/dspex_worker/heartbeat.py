"""The worker heartbeat published on ``<prefix>.hb.worker.<id>`` (docs/protocol.md)."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any, Literal

from . import __version__
from .measurements import MEASUREMENTS

State = Literal["starting", "ready", "busy", "draining", "stopped"]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def now_ms() -> int:
    return int(time.time() * 1000)


def rss_bytes() -> int:
    """Resident set size from /proc/self/statm (0 where there is no /proc)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


@dataclass(frozen=True)
class Identity:
    """What a heartbeat says about the worker that never changes."""

    id: str
    pool: str
    concurrency: int
    heartbeat_ms: int
    lm: str
    node: str | None
    started_at: int
    host: str = socket.gethostname()


def heartbeat(ident: Identity, *, state: State, inflight: int, calls: int, seq: int = 0) -> dict[str, Any]:
    """The heartbeat body; ``seq`` increases with every heartbeat of this process (replay check)."""
    body: dict[str, Any] = {
        "id": ident.id,
        "pool": ident.pool,
        "host": ident.host,
        "pid": os.getpid(),
        "state": state,
        "inflight": inflight,
        "concurrency": ident.concurrency,
        "calls": calls,
        "rss_bytes": rss_bytes(),
        "started_at": ident.started_at,
        "ts": now_ms(),
        "heartbeat_ms": ident.heartbeat_ms,
        "version": __version__,
        "lm": ident.lm,
        "seq": seq,
        "metrics": MEASUREMENTS.snapshot(),
    }
    if ident.node:
        body["node"] = ident.node
    return body
