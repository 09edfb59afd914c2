"""A blocking NATS client for hypothesis tests: its own event loop in a thread, one real connection.

Hypothesis drives plain functions; this lets each generated example make real request/reply calls
without tying the test to pytest-asyncio's loop.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import msgpack
import nats

T = TypeVar("T")


@dataclass
class Reply:
    status: int  # 0: success; else Nats-Service-Error-Code
    headers: dict[str, str]
    data: bytes  # raw reply body

    def body(self, as_json: bool) -> Any:
        return json.loads(self.data) if as_json else msgpack.unpackb(self.data, raw=False)


class SyncNats:
    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="sync-nats", daemon=True)
        self._thread.start()
        self.nc: Any = self.run(nats.connect(url, max_reconnect_attempts=-1))

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def request(self, subject: str, data: bytes, headers: dict[str, str] | None = None,
                timeout: float = 30.0) -> Reply:
        msg = self.run(self.nc.request(subject, data, headers=headers or None, timeout=timeout), timeout + 5)
        hdrs = dict(msg.headers or {})
        return Reply(int(hdrs.get("Nats-Service-Error-Code") or 0), hdrs, bytes(msg.data))

    def call(self, subject: str, body: Any, *, as_json: bool = False, headers: dict[str, str] | None = None,
             timeout: float = 30.0) -> Reply:
        hdrs = dict(headers or {})
        if as_json:
            hdrs["Content-Type"] = "application/json"
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        else:
            data = body if isinstance(body, bytes) else msgpack.packb(body, use_bin_type=True)
        return self.request(subject, data, hdrs, timeout)

    def ping_until_ready(self, subject: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                reply = self.call(subject, {"op": "ping"}, timeout=0.5)
                if reply.status == 0:
                    return
            except Exception:  # no responders yet
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)

    def close(self) -> None:
        try:
            self.run(self.nc.close(), 10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
