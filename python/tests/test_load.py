"""Concurrency limit (429), deadlines during a call (408) and heartbeats, on a slow dummy worker."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from dspex_worker import protocol

from .conftest import PREFIX, Beats, ZygoteProc, call, ping_until_ready, watch_beats

DELAY_MS = 700
REQ = {"op": "predict", "id": "c-1", "module": "Predict", "signature": "question -> answer",
       "inputs": {"question": "slow?"}}
HB_FIELDS = {"id", "pool", "host", "pid", "state", "inflight", "concurrency", "calls", "rss_bytes",
             "started_at", "ts", "heartbeat_ms", "version", "lm", "seq", "metrics"}


@pytest.fixture(scope="module")
async def slow(zygote: ZygoteProc, nc: Any) -> tuple[str, Beats, int]:
    beats = await watch_beats(nc, "slow-1")
    pid = zygote.spawn("slow-1", pool="slow", concurrency=2, node="n-test",
                       env={"DSPEX_DUMMY_DELAY_MS": str(DELAY_MS)})
    await ping_until_ready(nc, f"{PREFIX}.pool.slow.slow-1")
    return "slow-1", beats, pid


async def test_first_heartbeat_is_the_ready_announcement_with_every_field(slow: tuple[str, Beats, int]) -> None:
    worker_id, beats, pid = slow
    first = await beats.wait_for(lambda b: True)
    assert first["state"] == "ready"
    assert set(first) == HB_FIELDS | {"node"}
    protocol.check("worker_heartbeat", first)
    assert first["id"] == worker_id and first["pool"] == "slow" and first["pid"] == pid
    assert first["concurrency"] == 2 and first["heartbeat_ms"] == 200 and first["lm"] == "dummy"
    assert first["node"] == "n-test" and first["version"] == "0.1.0"
    assert first["rss_bytes"] > 10_000_000
    assert abs(first["ts"] - time.time() * 1000) < 60_000 and first["started_at"] <= first["ts"]
    assert first["seq"] >= 1  # grows with every heartbeat: nodes refuse replays (docs/security.md)


async def test_heartbeats_repeat_every_heartbeat_ms(slow: tuple[str, Beats, int]) -> None:
    _, beats, _ = slow
    n = len(beats.items)
    await beats.wait_for(lambda b: len(beats.items) >= n + 2)
    # Every heartbeat_ms (200), not flooding: consecutive beats are at least that far apart, give or
    # take the worker's clock granularity.
    gaps = [b["ts"] - a["ts"] for a, b in zip(beats.items[n:], beats.items[n + 1:], strict=False)]
    assert gaps and min(gaps) >= 150, gaps


async def test_a_full_worker_goes_busy_answers_429_then_ready_again(nc: Any, slow: tuple[str, Beats, int]) -> None:
    worker_id, beats, _ = slow
    subject = f"{PREFIX}.pool.slow.{worker_id}"
    mark = len(beats.items)
    running = [asyncio.create_task(call(nc, subject, REQ)) for _ in range(2)]
    busy = await beats.wait_for(lambda b: b["state"] == "busy")
    assert busy["inflight"] == 2
    headers, reply = await call(nc, subject, REQ)
    assert headers["Nats-Service-Error-Code"] == "429"
    assert reply["error"]["code"] == "overloaded" and reply["error"]["retryable"] is True
    for _, body in await asyncio.gather(*running):
        assert body["outputs"] == {"answer": "answer for slow?"}
    after = beats.items[mark:]
    states = [b["state"] for b in after]
    await beats.wait_for(lambda b: b["state"] == "ready" and b in beats.items[mark + states.index("busy"):])


async def test_a_deadline_reached_during_the_call_is_408_and_the_worker_goes_on(
    nc: Any, slow: tuple[str, Beats, int]
) -> None:
    worker_id, _, _ = slow
    subject = f"{PREFIX}.pool.slow.{worker_id}"
    deadline = str(int(time.time() * 1000) + 200)
    started = time.monotonic()
    headers, reply = await call(nc, subject, REQ, headers={"Dspex-Deadline": deadline})
    assert time.monotonic() - started < DELAY_MS / 1000
    assert headers["Nats-Service-Error-Code"] == "408"
    assert reply["error"]["code"] == "deadline_exceeded" and reply["error"]["retryable"] is True
    future = str(int(time.time() * 1000) + 10_000)
    _, ok = await call(nc, subject, REQ, headers={"Dspex-Deadline": future})
    assert ok["outputs"] == {"answer": "answer for slow?"}


async def test_calls_flipping_ready_and_busy_publish_no_heartbeat_of_their_own(zygote: ZygoteProc, nc: Any) -> None:
    """With concurrency 1 every call flips ready → busy → ready; those flips ride the timed heartbeat."""
    beats = await watch_beats(nc, "flip-1")
    zygote.spawn("flip-1", pool="flip", concurrency=1, heartbeat_ms=600_000)
    subject = f"{PREFIX}.pool.flip.flip-1"
    await ping_until_ready(nc, subject)
    await beats.wait_for(lambda b: b["state"] == "ready")
    for i in range(20):
        headers, reply = await call(nc, subject, {**REQ, "id": f"flip-{i}", "inputs": {"question": f"q{i}"}})
        assert "Nats-Service-Error-Code" not in headers and reply["outputs"] == {"answer": f"answer for q{i}"}
    await ping_until_ready(nc, subject)  # a reply sent after anything the calls published
    await nc.flush()
    assert beats.states() == ["ready"], "only the announcement: no heartbeat per call"
    zygote.send({"op": "kill", "id": "flip-1", "signal": "TERM"})
    await beats.wait_for(lambda b: b["state"] == "stopped")
    assert beats.states() == ["ready", "draining", "stopped"], "draining and stopped are published at once"
