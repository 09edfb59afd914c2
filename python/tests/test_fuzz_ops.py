"""Fuzzing every worker op over a real nats-server, against a worker that holds canary secrets.

Bodies from tests/fuzz_bodies.py go to the worker's own subject and to its pool's queue subject, in
msgpack and in JSON, with random ``Dspex-Deadline`` and ``Dspex-Trace`` headers. Every reply must:
decode, carry only the headers a worker sets, hold no canary, and have a status from the documented
set (no 500). At the end the worker is alive, answers a ping and a real call, and its RSS grew by less
than ``RSS_GROWTH_MAX``.

A short seed-fixed run is part of the suite; ``DSPEX_FUZZ_EXAMPLES=N`` runs N random examples per
property instead (docs/security.md). The counts are printed by the last test (``pytest -s``).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from typing import Any

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dspex_worker.protocol import check_error_reply

from .conftest import pid_alive
from .fuzz_bodies import Deep, bodies, compile_bodies, deadlines, plausible_predicts, predict_bodies, traces
from .hostile import HostileWorker, leaks

LONG = int(os.environ.get("DSPEX_FUZZ_EXAMPLES", "0") or 0)
FUZZ = settings(max_examples=LONG or 400, deadline=None, derandomize=not LONG, database=None,
                suppress_health_check=list(HealthCheck))
# 408 (a Dspex-Deadline that passed), 429 (the worker's own concurrency), 502 (an LM reply, e.g. a
# scripted dummy answer, that does not parse): documented in docs/protocol.md. 500 never is.
ALLOWED = {0, 400, 404, 408, 422, 429, 502}
WORKER_HEADERS = {"Nats-Service-Error-Code", "Nats-Service-Error", "Dspex-Trace", "Content-Type"}
RSS_GROWTH_MAX = 256 * 1024 * 1024
STATS: dict[str, Any] = {"sent": 0, "status": Counter(), "secrets": 0, "rss_start": None, "fields": Counter()}


def _encode(body: Any, as_json: bool) -> bytes | None:
    if isinstance(body, bytes):
        return body
    if isinstance(body, Deep):
        return body.encode(as_json)
    try:
        return json.dumps(body, allow_nan=True).encode() if as_json else msgpack.packb(body, use_bin_type=True)
    except (ValueError, TypeError, OverflowError):  # e.g. a value JSON or msgpack cannot represent
        return None


def _headers(deadline: str | None, trace: str | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if deadline is not None:
        if deadline.startswith("now"):
            deadline = str(int(time.time() * 1000) + int(deadline[3:]))
        headers["Dspex-Deadline"] = deadline
    if trace:
        headers["Dspex-Trace"] = trace
    return headers


def send(worker: HostileWorker, body: Any, as_json: bool, pool: bool, deadline: str | None,
         trace: str | None) -> None:
    data = _encode(body, as_json)
    if data is None:
        return
    if worker.client.nc.max_payload < len(data) + 1024:
        return
    if STATS["rss_start"] is None:
        STATS["rss_start"] = worker.rss_bytes()
    headers = _headers(deadline, trace)
    if as_json:
        headers["Content-Type"] = "application/json"
    # Compile runs stop at their deadline: bound every one so the run stays short.
    if "Dspex-Deadline" not in headers and isinstance(body, dict) and body.get("op") == "compile":
        headers["Dspex-Deadline"] = str(int(time.time() * 1000) + 3000)
    reply = worker.client.request(worker.pool if pool else worker.own, data, headers, timeout=60)
    STATS["sent"] += 1
    STATS["status"][reply.status] += 1
    found = leaks(reply.data) + leaks(json.dumps(reply.headers))
    STATS["secrets"] += len(found)
    assert not found, f"secret in a reply: {found}"
    assert set(reply.headers) <= WORKER_HEADERS, reply.headers
    for value in reply.headers.values():
        assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in value), reply.headers
    assert reply.status in ALLOWED, (reply.status, reply.data[:500])
    decoded = reply.body(as_json)
    if reply.status:
        check_error_reply(decoded)
        STATS["fields"][f"{reply.status} {(decoded['error'].get('details') or {}).get('field', '-')}"] += 1
        assert decoded["error"]["code"] and isinstance(decoded["error"]["message"], str)
        if trace and reply.headers.get("Dspex-Trace") is not None:
            assert len(reply.headers["Dspex-Trace"]) <= 128
    else:
        assert isinstance(decoded, dict)


@FUZZ
@given(body=bodies, as_json=st.booleans(), pool=st.booleans(), deadline=deadlines, trace=traces)
def test_fuzzed_bodies_get_documented_replies_and_no_secrets(
    hostile_worker: HostileWorker, body: Any, as_json: bool, pool: bool, deadline: str | None, trace: str | None
) -> None:
    send(hostile_worker, body, as_json, pool, deadline, trace)


@FUZZ
@given(body=st.one_of(predict_bodies, plausible_predicts()), as_json=st.booleans())
def test_fuzzed_predict_calls(hostile_worker: HostileWorker, body: Any, as_json: bool) -> None:
    send(hostile_worker, body, as_json, False, None, None)


@settings(FUZZ, max_examples=LONG or 100)
@given(body=compile_bodies, as_json=st.booleans())
def test_fuzzed_compile_calls(hostile_worker: HostileWorker, body: Any, as_json: bool) -> None:
    send(hostile_worker, body, as_json, False, None, None)


def test_the_worker_survives_and_its_memory_stays_bounded(hostile_worker: HostileWorker) -> None:
    assert pid_alive(hostile_worker.pid)
    ping = hostile_worker.client.call(hostile_worker.own, {"op": "ping"})
    assert ping.status == 0
    good = hostile_worker.client.call(hostile_worker.own, {"op": "predict", "module": "Predict",
                                                           "signature": "q -> a: int", "inputs": {"q": "x"}})
    assert good.status == 0 and good.body(False)["outputs"] == {"a": 42}
    rss = hostile_worker.rss_bytes()
    start = STATS["rss_start"] or rss
    five = sum(n for s, n in STATS["status"].items() if s >= 500)
    undocumented = sum(n for s, n in STATS["status"].items() if s >= 500 and s != 502)
    zygote = hostile_worker.zygote
    while not zygote.events.empty():
        zygote.seen.append(zygote.events.get_nowait())
    deaths = sum(1 for e in zygote.seen if e.get("event") == "exited")
    print(f"\nfuzz: {STATS['sent']} bodies sent; replies by status {dict(sorted(STATS['status'].items()))}; "
          f"5xx {five} (500/503: {undocumented}); secrets found {STATS['secrets']}; worker deaths {deaths}; "
          f"RSS {start / 2**20:.0f} -> {rss / 2**20:.0f} MiB\nmost frequent errors: {STATS['fields'].most_common(12)}")
    assert STATS["sent"] > 0 and deaths == 0
    assert rss - start < RSS_GROWTH_MAX, (start, rss)
