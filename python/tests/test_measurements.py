"""measurements.py: the worker's own counters, sent in every heartbeat and checked by the node's schema."""

from __future__ import annotations

import dspy

from dspex_worker import protocol
from dspex_worker.contract import Contract, load_schemas
from dspex_worker.heartbeat import Identity, heartbeat
from dspex_worker.measurements import MAX_MODELS, MEASUREMENTS, OTHER, Measurements, lm_callback


def test_counts_calls_tokens_and_lm_time_per_model() -> None:
    m = Measurements()
    m.call("ok", 0.5)
    m.call("ok", 0.25)
    m.call("lm_error", 1.0)
    m.usage({"openai/x": {"prompt_tokens": 10, "completion_tokens": 3}, "bad": "not a mapping"})
    m.usage({"openai/x": {"prompt_tokens": 5, "completion_tokens": -7, "total_tokens": True}})
    m.lm_start("c1", "openai/x")
    m.lm_end("c1", failed=True)
    m.lm_end("never-started", failed=False)
    snap = m.snapshot()
    assert snap["calls"] == {"ok": 2, "lm_error": 1}
    assert snap["dspy_seconds"] == 1.75
    x = snap["lm"]["openai/x"]
    assert (x["calls"], x["errors"], x["prompt_tokens"], x["completion_tokens"]) == (1, 1, 15, 3)
    assert x["seconds"] >= 0
    assert len(snap["gc"]["collections"]) == 3


def test_bounds_the_models_it_keeps() -> None:
    m = Measurements()
    for i in range(MAX_MODELS + 10):
        m.usage({f"model-{i}": {"prompt_tokens": 1}})
    lm = m.snapshot()["lm"]
    assert len(lm) == MAX_MODELS + 1
    assert lm[OTHER]["prompt_tokens"] == 10


def test_the_dspy_callback_times_each_lm_call_and_the_heartbeat_carries_it() -> None:
    MEASUREMENTS.reset()
    lm = dspy.utils.DummyLM([{"answer": "a"}, {"answer": "b"}])
    with dspy.context(lm=lm, callbacks=[lm_callback()]):
        predict = dspy.Predict("question -> answer")
        predict(question="1")
        predict(question="2")
    ident = Identity(id="w-1", pool="general", concurrency=1, heartbeat_ms=1000, lm="dummy", node=None, started_at=1)
    body = heartbeat(ident, state="ready", inflight=0, calls=2, seq=1)
    assert sum(e["calls"] for e in body["metrics"]["lm"].values()) == 2
    Contract(protocol.HAND_CHECKS, load_schemas()).validate("worker_heartbeat", body)
