"""Calls over the pool subject against a real worker (forked by the session zygote) and real DSPy."""

from __future__ import annotations

import time
from typing import Any

import msgpack
import pytest

from dspex_worker import protocol

from .conftest import PREFIX, call

POOL = f"{PREFIX}.pool.t"
COT = {"op": "predict", "id": "c-1", "module": "ChainOfThought",
       "signature": "question: str, context: list[str] -> answer: str, confidence: float",
       "inputs": {"question": "What is 2+2?", "context": ["math"]}}


@pytest.mark.parametrize("as_json", [False, True], ids=["msgpack", "json"])
async def test_predict_answers_with_outputs_of_every_field(nc: Any, worker: str, as_json: bool) -> None:
    req = {"op": "predict", "id": "c-0", "module": "Predict", "signature": "question -> answer, n: int",
           "inputs": {"question": "What is 2+2?"}}
    headers, body = await call(nc, POOL, req, as_json=as_json)
    protocol.check("predict_reply", body)
    assert body["outputs"] == {"answer": "answer for What is 2+2?", "n": 42}
    assert body["worker"] == worker
    assert "Nats-Service-Error-Code" not in headers


async def test_chain_of_thought_returns_reasoning_and_same_outputs_in_msgpack_and_json(nc: Any, worker: str) -> None:
    _, packed = await call(nc, POOL, COT)
    _, text = await call(nc, POOL, COT, as_json=True)
    assert packed["outputs"] == text["outputs"]
    assert packed["outputs"] == {"reasoning": "reasoning for What is 2+2?", "answer": "answer for What is 2+2?",
                                 "confidence": 0.5}
    assert isinstance(packed["latency_ms"], int | float)
    assert packed["usage"]["total_tokens"] >= 0


async def test_demos_config_and_instructions_are_accepted(nc: Any, worker: str) -> None:
    req = {**COT, "demos": [{"question": "q", "context": ["c"], "answer": "a", "confidence": 0.9}],
           "config": {"temperature": 0.2, "max_tokens": 64, "n": 1, "cache": False, "lm": "openai/gpt-4o-mini"},
           "instructions": "Answer briefly."}
    _, body = await call(nc, POOL, req)
    assert body["outputs"]["answer"] == "answer for What is 2+2?"


async def test_ping_and_trace_echo(nc: Any, worker: str) -> None:
    headers, body = await call(nc, f"{POOL}.{worker}", {"op": "ping"}, headers={"Dspex-Trace": "tr-1"})
    assert body == {"pong": True, "worker": worker}
    assert headers.get("Dspex-Trace") == "tr-1"


BAD_CASES: list[tuple[str, Any, bool, int, str, str | None]] = [
    ("not msgpack", b"\xc1\xc1", False, 400, "bad_request", "body"),
    ("not json", b"{nope", True, 400, "bad_request", "body"),
    ("not a map", ["x"], False, 400, "bad_request", "body"),
    ("inputs not a map", {**COT, "inputs": ["x"]}, False, 400, "bad_request", "inputs"),
    ("no signature", {k: v for k, v in COT.items() if k != "signature"}, True, 400, "bad_request", "signature"),
    ("bad signature", {**COT, "signature": "a b -> c"}, False, 400, "bad_request", "signature"),
    ("bad temperature", {**COT, "config": {"temperature": "hot"}}, False, 400, "bad_request", "config.temperature"),
    ("unknown module", {**COT, "module": "ReActish"}, False, 404, "not_found", "module"),
    ("unknown op", {"op": "explode"}, True, 404, "not_found", "op"),
    ("missing field", {**COT, "inputs": {"question": "q"}}, False, 422, "validation_failed", "inputs.context"),
    ("unknown field", {**COT, "inputs": {**COT["inputs"], "x": 1}}, True, 422, "validation_failed", "inputs.x"),
    ("wrong type", {**COT, "inputs": {"question": 7, "context": []}}, False, 422, "validation_failed",
     "inputs.question"),
    ("oversized", {**COT, "inputs": {"question": "x" * (1024 * 1024 + 10), "context": []}}, False, 400,
     "payload_too_large", "body"),
]


@pytest.mark.parametrize(("case", "body", "as_json", "status", "code", "field"), BAD_CASES,
                         ids=[c[0] for c in BAD_CASES])
async def test_error_replies_carry_status_code_and_field_and_the_worker_keeps_serving(
    nc: Any, worker: str, case: str, body: Any, as_json: bool, status: int, code: str, field: str | None
) -> None:
    headers, reply = await call(nc, POOL, body, as_json=as_json, headers={"Dspex-Trace": f"t-{case}"})
    protocol.check("error_reply", reply)
    assert headers["Nats-Service-Error-Code"] == str(status)
    assert headers["Nats-Service-Error"]
    assert headers["Dspex-Trace"] == f"t-{case}"
    assert reply["error"]["code"] == code
    assert reply["error"]["retryable"] is False
    if field is not None:
        assert reply["error"]["details"]["field"] == field
    if code == "validation_failed":
        assert reply["error"]["message"].startswith(field + ":")
    _, ok = await call(nc, POOL, COT)
    assert ok["outputs"]["answer"] == "answer for What is 2+2?"


async def test_wrong_type_message_says_expected_and_got(nc: Any, worker: str) -> None:
    _, reply = await call(nc, POOL, {**COT, "inputs": {"question": 7, "context": []}})
    assert reply["error"]["message"] == "inputs.question: expected string, got integer"


async def test_a_deadline_already_passed_is_408(nc: Any, worker: str) -> None:
    past = str(int(time.time() * 1000) - 1000)
    headers, reply = await call(nc, POOL, COT, headers={"Dspex-Deadline": past})
    assert headers["Nats-Service-Error-Code"] == "408"
    assert reply["error"] == {**reply["error"], "code": "deadline_exceeded", "retryable": True}


async def test_a_request_without_reply_subject_is_ignored(nc: Any, worker: str) -> None:
    await nc.publish(POOL, msgpack.packb(COT))
    _, ok = await call(nc, POOL, {"op": "ping"})
    assert ok["pong"] is True
