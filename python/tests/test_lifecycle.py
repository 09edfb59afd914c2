"""Graceful stop on SIGTERM, --watch-stdin, the zygote fork server and --count supervision."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import subprocess
from typing import Any

import msgpack

from dspex_worker.identity import derive_key

from .conftest import (
    BASE_ENV,
    PREFIX,
    ZygoteProc,
    call,
    eventually,
    pid_alive,
    ping_until_ready,
    watch_beats,
    worker_cmd,
)

REQ = {"op": "predict", "id": "c-1", "module": "ChainOfThought", "signature": "question -> answer",
       "inputs": {"question": "still there?"}}


async def test_sigterm_mid_call_answers_the_call_then_reports_stopped_and_exits_0(
    zygote: ZygoteProc, nc: Any
) -> None:
    beats = await watch_beats(nc, "term-1")
    zygote.spawn("term-1", pool="term", env={"DSPEX_DUMMY_DELAY_MS": "1000"})
    subject = f"{PREFIX}.pool.term.term-1"
    await ping_until_ready(nc, subject)
    pending = asyncio.create_task(call(nc, subject, REQ))
    await beats.wait_for(lambda b: b["inflight"] == 1)
    zygote.send({"op": "kill", "id": "term-1", "signal": "TERM"})
    headers, body = await pending
    assert "Nats-Service-Error-Code" not in headers
    assert body["outputs"]["answer"] == "answer for still there?"
    last = await beats.wait_for(lambda b: b["state"] == "stopped")
    assert last["calls"] == 1 and last["inflight"] == 0
    assert "draining" in beats.states()
    exited = await asyncio.to_thread(
        zygote.wait_event, lambda e: e.get("event") == "exited" and e.get("id") == "term-1", 20
    )
    assert exited["code"] == 0 and exited["signal"] is None


async def test_watch_stdin_worker_exits_cleanly_when_stdin_closes(nats_url: str, nc: Any) -> None:
    beats = await watch_beats(nc, "w-1")
    proc = subprocess.Popen(
        worker_cmd("--nats", nats_url, "--pool", "w", "--id", "w-1", "--watch-stdin", "--heartbeat-ms", "200"),
        stdin=subprocess.PIPE, env=BASE_ENV,
    )
    try:
        first = await beats.wait_for(lambda b: True, timeout=90)
        assert first["state"] == "ready" and "node" not in first
        _, body = await call(nc, f"{PREFIX}.pool.w", REQ)
        assert body["worker"] == "w-1"
        assert proc.stdin is not None
        proc.stdin.close()
        assert await asyncio.to_thread(proc.wait, 20) == 0
        await beats.wait_for(lambda b: b["state"] == "stopped")
    finally:
        if proc.poll() is None:
            proc.kill()


async def test_zygote_children_serve_report_kill_9_and_all_stop_when_stdin_closes(
    nats_url: str, nc: Any
) -> None:
    z = ZygoteProc(nats_url, "--pool", "z", "--node", "n-z")
    try:
        ready = await asyncio.to_thread(z.wait_event, lambda e: e.get("event") == "ready", 90)
        assert ready["pid"] == z.proc.pid
        beats = await watch_beats(nc, "z-1")
        pids = {wid: z.spawn(wid) for wid in ("z-1", "z-2")}
        for wid in pids:
            await ping_until_ready(nc, f"{PREFIX}.pool.z.{wid}")
            _, body = await call(nc, f"{PREFIX}.pool.z.{wid}", REQ)
            assert body["worker"] == wid
        assert (await beats.wait_for(lambda b: True))["node"] == "n-z"

        z.send({"op": "kill", "id": "z-2", "signal": "KILL"})
        gone = await asyncio.to_thread(z.wait_event, lambda e: e.get("event") == "exited", 20)
        assert gone == {"event": "exited", "id": "z-2", "pid": pids["z-2"], "code": None, "signal": 9}

        z.send({"op": "spawn", "id": "z-1"})
        dup = await asyncio.to_thread(z.wait_event, lambda e: e.get("event") == "error", 10)
        assert dup["id"] == "z-1"

        assert await asyncio.to_thread(z.close) == 0
        assert not pid_alive(pids["z-1"])
        await beats.wait_for(lambda b: b["state"] == "stopped")
        exits = [e for e in z.seen if e.get("event") == "exited"]
        while not z.events.empty():
            exits.append(z.events.get())
        assert [e["id"] for e in exits if e.get("event") == "exited"] == ["z-1"]
        # stdout carried nothing but JSON-line events.
        assert all(line.startswith(b'{"event":') for line in z.raw_lines)
    finally:
        if z.proc.poll() is None:
            z.proc.kill()


async def test_count_starts_n_workers_restarts_a_crashed_one_and_stops_on_sigterm(
    nats_url: str, nc: Any
) -> None:
    beats = {wid: await watch_beats(nc, wid) for wid in ("c-0", "c-1")}
    proc = subprocess.Popen(
        worker_cmd("--nats", nats_url, "--pool", "c", "--id", "c", "--count", "2", "--heartbeat-ms", "200"),
        stdin=subprocess.DEVNULL, env=BASE_ENV,
    )
    try:
        first = {wid: await b.wait_for(lambda x: x["state"] == "ready", timeout=90) for wid, b in beats.items()}
        os.kill(first["c-0"]["pid"], signal.SIGKILL)
        await beats["c-0"].wait_for(lambda x: x["state"] == "ready" and x["pid"] != first["c-0"]["pid"])
        _, body = await call(nc, f"{PREFIX}.pool.c.c-0", REQ)
        assert body["worker"] == "c-0"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 40) == 0
        for b in beats.values():
            await b.wait_for(lambda x: x["state"] == "stopped")
        eventually(lambda: not any(pid_alive(b.items[-1]["pid"]) for b in beats.values()), 5)
    finally:
        if proc.poll() is None:
            proc.kill()


async def test_a_zygote_child_given_a_key_signs_its_heartbeats_and_replies(zygote: ZygoteProc, nc: Any) -> None:
    """The node hands a child its key in the spawn command; nothing else about the child changes."""
    key = derive_key(b"pytest-cluster-secret-0123456789", "signed-1")
    signed: list[tuple[str, bytes, str]] = []
    two_beats = asyncio.Event()

    async def on_beat(msg: Any) -> None:
        signed.append((msg.subject, msg.data, (msg.headers or {}).get("Dspex-Sig", "")))
        if len(signed) >= 2:
            two_beats.set()

    sub = await nc.subscribe(f"{PREFIX}.hb.worker.signed-1", cb=on_beat)
    zygote.spawn("signed-1", pool="signed", key=key.hex())
    subject = f"{PREFIX}.pool.signed.signed-1"
    await ping_until_ready(nc, subject)
    inbox = nc.new_inbox()
    reply_sub = await nc.subscribe(inbox, max_msgs=1)
    await nc.publish(subject, msgpack.packb({"op": "ping"}), reply=inbox)
    reply = await reply_sub.next_msg(timeout=5)
    expected = hmac.new(key, f"dspex-reply\n{inbox}\nsigned-1\n\n".encode() + reply.data, hashlib.sha256).hexdigest()
    assert reply.headers["Dspex-Worker"] == "signed-1"
    assert reply.headers["Dspex-Sig"] == expected
    await asyncio.wait_for(two_beats.wait(), 10)  # heartbeats every 200 ms
    for hb_subject, data, sig in signed:
        mac = hmac.new(key, f"dspex-hb\n{hb_subject}\n".encode() + data, hashlib.sha256).hexdigest()
        assert sig == mac
    seqs = [msgpack.unpackb(data)["seq"] for _, data, _ in signed]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    await sub.unsubscribe()
    zygote.send({"op": "kill", "id": "signed-1", "signal": "TERM"})
    await asyncio.to_thread(zygote.wait_event, lambda e: e.get("event") == "exited" and e.get("id") == "signed-1", 20)


def test_a_spawn_command_with_a_malformed_key_is_refused(zygote: ZygoteProc) -> None:
    zygote.send({"op": "spawn", "id": "badkey-1", "key": "zz" * 32})
    ev = zygote.wait_event(lambda e: e.get("event") == "error" and e.get("id") == "badkey-1")
    assert ev["message"] == "key must be 64 hex digits"
    assert "zz" not in json.dumps(ev)
