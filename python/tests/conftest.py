"""Shared fixtures: a real nats-server, a NATS client, and one zygote whose children serve the tests."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import msgpack
import nats
import pytest

PYTHON_DIR = Path(__file__).resolve().parent.parent
FIXTURES = PYTHON_DIR.parent / "fixtures" / "protocol"
NATS_SERVER = shutil.which("nats-server") or "/usr/bin/nats-server"
PREFIX = "dspex"

# Worker processes inherit this: no network, no disk cache, quiet DSPy.
BASE_ENV = {
    **os.environ,
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "DSPEX_MEMORY_CACHE": "0",
    "DSPEX_LM": "dummy",
    "PYTHONUNBUFFERED": "1",
}
BASE_ENV.pop("DSPEX_DUMMY_DELAY_MS", None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def eventually(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); count it as gone.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    store = tmp_path_factory.mktemp("js")
    conf = store / "nats.conf"
    conf.write_text("max_payload: 8MB\n")  # as in docs/protocol.md "Limits"
    proc = subprocess.Popen(
        [NATS_SERVER, "-c", str(conf), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )

    def accepting() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                return s.recv(4).startswith(b"INFO")
        except OSError:
            return False

    try:
        eventually(accepting, timeout=10)
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
async def nc(nats_url: str) -> AsyncIterator[Any]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


def worker_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "dspex_worker", *args]


class ZygoteProc:
    """A ``dspex-worker --zygote`` process with its JSON-line events collected by a thread."""

    def __init__(self, nats_url: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            worker_cmd("--zygote", "--nats", nats_url, "--pool", "t", "--heartbeat-ms", "200", *args),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**BASE_ENV, **(env or {})},
        )
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self.raw_lines: list[bytes] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.raw_lines.append(line)
            self.events.put(json.loads(line))

    def wait_event(self, match: Callable[[dict[str, Any]], bool], timeout: float = 60.0) -> dict[str, Any]:
        for ev in self.seen:
            if match(ev):
                self.seen.remove(ev)
                return ev
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching zygote event within {timeout}s; seen {self.seen}")
            try:
                ev = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            if match(ev):
                return ev
            self.seen.append(ev)

    def send(self, cmd: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        self.proc.stdin.flush()

    def spawn(self, worker_id: str, **extra: Any) -> int:
        self.send({"op": "spawn", "id": worker_id, **extra})
        ev = self.wait_event(lambda e: e.get("event") == "spawned" and e.get("id") == worker_id)
        return int(ev["pid"])

    def close(self, timeout: float = 45.0) -> int:
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


@pytest.fixture(scope="session")
def zygote(nats_url: str) -> Iterator[ZygoteProc]:
    z = ZygoteProc(nats_url)
    z.wait_event(lambda e: e.get("event") == "ready", timeout=90)
    yield z
    z.close()


@pytest.fixture(scope="session")
async def worker(zygote: ZygoteProc, nc: Any) -> str:
    """A plain worker in pool ``t`` (the only one in that pool); returns its id."""
    zygote.spawn("t-main")
    await ping_until_ready(nc, f"{PREFIX}.pool.t.t-main")
    return "t-main"


async def call(nc: Any, subject: str, body: Any, *, as_json: bool = False,
               headers: dict[str, str] | None = None, timeout: float = 10.0) -> tuple[dict[str, str], Any]:
    """Request/reply in msgpack or JSON; returns (headers, decoded body)."""
    hdrs = dict(headers or {})
    if as_json:
        hdrs["Content-Type"] = "application/json"
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    else:
        data = body if isinstance(body, bytes) else msgpack.packb(body)
    msg = await nc.request(subject, data, headers=hdrs or None, timeout=timeout)
    decoded = json.loads(msg.data) if as_json else msgpack.unpackb(msg.data)
    return dict(msg.headers or {}), decoded


async def ping_until_ready(nc: Any, subject: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, body = await call(nc, subject, {"op": "ping"}, timeout=0.5)
            return dict(body)
        except Exception:  # no responders yet, or not ready
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


class Beats:
    """Collects decoded heartbeats of one worker subject."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    async def cb(self, msg: Any) -> None:
        self.items.append(msgpack.unpackb(msg.data))

    def states(self) -> list[str]:
        return [b["state"] for b in self.items]

    async def wait_for(self, match: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for b in self.items:
                if match(b):
                    return b
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching heartbeat within {timeout}s; states {self.states()}")
            await asyncio.sleep(0.02)


async def watch_beats(nc: Any, worker_id: str) -> Beats:
    beats = Beats()
    await nc.subscribe(f"{PREFIX}.hb.worker.{worker_id}", cb=beats.cb)
    await nc.flush()
    return beats


@pytest.fixture(scope="session")
def hostile_worker(nats_url: str) -> Iterator[Any]:
    """A worker with canary secrets in its environment and argv (tests/hostile.py), and a blocking client."""
    from .hostile import CANARIES, HOSTILE_POOL, HOSTILE_WORKER, HostileWorker, url_with_canary
    from .sync_nats import SyncNats

    z = ZygoteProc(url_with_canary(nats_url), env=CANARIES)
    client = SyncNats(nats_url)
    try:
        z.wait_event(lambda e: e.get("event") == "ready", timeout=90)
        pid = z.spawn(HOSTILE_WORKER, pool=HOSTILE_POOL)
        worker = HostileWorker(z, client, pid)
        client.ping_until_ready(worker.own)
        yield worker
    finally:
        client.close()
        z.close()
