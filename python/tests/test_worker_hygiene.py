"""Nothing secret leaves a worker, and nothing a request sends can break its replies.

Over the wire against the canary worker (tests/hostile.py): header values cleaned, echoed request
values quoted short, demo values checked against the signature instead of crashing DSPy's prompt
formatting, tool schemas reduced to an allow-list; and in-process: the module cache's weight bound.
"""

from __future__ import annotations

from typing import Any

import pytest

from dspex_worker.errors import ValidationFailed
from dspex_worker.lm import LmChooser
from dspex_worker.modules import CACHE_MAX_WEIGHT, ModuleCache
from dspex_worker.protocol import parse_worker_request
from dspex_worker.runner import Runner
from dspex_worker.tool_schema import clean_parameters

from .conftest import ZygoteProc
from .hostile import HostileWorker, leaks

WORKER_HEADERS = {"Nats-Service-Error-Code", "Nats-Service-Error", "Dspex-Trace", "Content-Type"}


def _predict(**extra: Any) -> dict[str, Any]:
    return {"op": "predict", "module": "Predict", "signature": "q -> a", "inputs": {"q": "x"}, **extra}


def _clean_headers(headers: dict[str, str]) -> None:
    assert set(headers) <= WORKER_HEADERS, headers
    for value in headers.values():
        assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029" for c in value), headers


def test_an_echoed_trace_id_loses_control_characters_and_length(hostile_worker: HostileWorker) -> None:
    trace = "t\x00\x1b[31m\x7f\x85\u2028x" + "y" * 5000
    for body in (_predict(), {"op": "nope"}):
        reply = hostile_worker.client.call(hostile_worker.own, body, headers={"Dspex-Trace": trace})
        _clean_headers(reply.headers)
        assert reply.headers["Dspex-Trace"].startswith("t  [31m")
        assert len(reply.headers["Dspex-Trace"]) <= 128


@pytest.mark.parametrize(("body", "field"), [
    (_predict(module="Predict\r\nNats-Service-Error-Code: 200\r\nX: y"), "module"),
    ({"op": "ping\r\nInjected: 1"}, "op"),
    (_predict(options={"M\r\n": 1}), "options.M\r\n"),
    ({**_predict(), "module": "MultiChainComparison", "options": {"M": "3\r\nX"}}, "options.M"),
    (_predict(signature="q -> a: 'x\r\ny'"), "signature"),
])
def test_crlf_in_request_values_never_reaches_a_header_line(hostile_worker: HostileWorker, body: dict[str, Any],
                                                            field: str) -> None:
    for as_json in (False, True):
        reply = hostile_worker.client.call(hostile_worker.own, body, as_json=as_json)
        assert reply.status in (400, 404)
        _clean_headers(reply.headers)
        error = reply.body(as_json)["error"]
        assert error["details"]["field"] == field
        assert len(reply.headers["Nats-Service-Error"]) <= 1024


def test_echoed_values_are_short_and_never_the_repr_of_a_structure(hostile_worker: HostileWorker) -> None:
    # Over the module name's length limit (the node's too): refused by the schema, named, not echoed.
    reply = hostile_worker.client.call(hostile_worker.own, _predict(module="M" * 100_000))
    assert reply.status == 400 and len(reply.data) < 1000
    assert reply.body(False)["error"]["details"]["field"] == "module"
    reply = hostile_worker.client.call(hostile_worker.own, _predict(module="M" * 64))
    assert reply.status == 404 and len(reply.data) < 1000
    reply = hostile_worker.client.call(hostile_worker.own, {**_predict(), "module": "Refine", "options": {
        "N": 1, "threshold": 1, "reward": {"kind": {"nested": ["secret-looking", {"x": 1}]}, "name": "x"}}})
    assert reply.status == 400
    message = reply.body(False)["error"]["message"]
    assert "secret-looking" not in message and "a map" in message


@pytest.mark.parametrize(("extra", "field"), [
    ({"demos": [{"q": "x", "a": [None]}]}, "demos.0.a"),
    ({"demos": [{"q": "ok", "a": "ok"}, {"q": {"deep": [1]}, "a": "x"}]}, "demos.1.q"),
    ({"state": {"demos": [{"q": [None], "a": "x"}], "signature": {"instructions": "i", "fields": []}}},
     "state.demos.0.q"),
])
def test_demo_values_that_do_not_fit_the_signature_are_a_422(hostile_worker: HostileWorker, extra: dict[str, Any],
                                                             field: str) -> None:
    reply = hostile_worker.client.call(hostile_worker.own, _predict(**extra))
    assert reply.status == 422, reply.data[:300]
    assert reply.body(False)["error"]["details"]["field"] == field


def test_demo_values_as_text_or_of_the_field_type_are_fine(hostile_worker: HostileWorker) -> None:
    body = {**_predict(), "signature": "q: int -> a: list[str]", "inputs": {"q": 1},
            "demos": [{"q": 2, "a": ["x"]}, {"q": "3", "a": "[\"y\"]"}, {"q": None, "augmented": True}]}
    reply = hostile_worker.client.call(hostile_worker.own, body)
    assert reply.status == 0, reply.data[:300]


def test_a_tool_schema_keeps_only_allow_listed_keywords() -> None:
    schema = {
        "type": "object", "$schema": "x", "$defs": {"a": {}}, "title": "t",
        "properties": {
            "x": {"type": "string", "pattern": "^(a+)+$", "format": "email", "maxLength": 10, "description": "d"},
            "r": {"$ref": "http://169.254.169.254/latest", "type": ["string", "null", "bogus"]},
            "n": {"type": "integer", "minimum": 1, "maximum": float("inf"), "enum": [1, 2]},
            "l": {"type": "array", "items": {"type": "string", "patternProperties": {".*": {}}}},
        },
        "required": ["x"], "additionalProperties": False, "if": {}, "then": {}, "dependentSchemas": {},
    }
    assert clean_parameters(schema) == {
        "type": "object", "title": "t",
        "properties": {
            "x": {"type": "string", "maxLength": 10, "description": "d"},
            "r": {},
            "n": {"type": "integer", "minimum": 1, "enum": [1, 2]},
            "l": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["x"], "additionalProperties": False,
    }
    deep: dict[str, Any] = {"type": "object"}
    node = deep
    for _ in range(100):
        node["properties"] = {"p": {"type": "object"}}
        node = node["properties"]["p"]
    cleaned = clean_parameters(deep)
    depth = 0
    while "properties" in cleaned:
        cleaned, depth = cleaned["properties"]["p"], depth + 1
    assert depth < 10


def test_a_backtracking_pattern_in_a_tool_schema_cannot_stall_the_worker(hostile_worker: HostileWorker) -> None:
    evil = {"name": "lookup", "description": "d", "parameters": {
        "type": "object", "properties": {"x": {"type": "string", "pattern": "^(a+)+$"}}}}
    script = [{"next_thought": "t", "next_tool_name": "lookup", "next_tool_args": {"x": "a" * 40 + "!"}},
              {"next_thought": "t", "next_tool_name": "finish", "next_tool_args": {}},
              {"reasoning": "r", "a": "done"}]
    body = {**_predict(), "module": "ReAct", "tools": [evil], "options": {"max_iters": 2},
            "config": {"dummy_script": script}}
    # With the pattern kept, jsonschema's backtracking would run for hours on the event loop.
    reply = hostile_worker.client.call(hostile_worker.own, body, timeout=60)
    assert reply.status == 0, reply.data[:300]
    assert hostile_worker.client.call(hostile_worker.own, {"op": "ping"}).status == 0


def test_heavy_specs_are_built_per_call_and_not_kept() -> None:
    cache = ModuleCache()
    light = parse_worker_request(_predict(instructions="short"))
    heavy = parse_worker_request(_predict(instructions="h" * (CACHE_MAX_WEIGHT + 1)))
    cache.for_call(light)
    cache.for_call(heavy)
    assert len(cache) == 1
    state = {"demos": [{"q": "x" * 1000, "a": "y"}] * 80, "signature": {"instructions": "i", "fields": []}}
    cache.for_call(parse_worker_request(_predict(state=state)))
    assert len(cache) == 1


def test_demo_checks_also_guard_the_in_process_runner() -> None:
    runner = Runner(LmChooser("dummy"))
    with pytest.raises(ValidationFailed):
        runner.prepare(parse_worker_request(_predict(demos=[{"q": "x", "a": [None]}])))


def test_the_zygote_refuses_worker_ids_and_pools_that_are_not_subject_tokens(hostile_worker: HostileWorker) -> None:
    zygote: ZygoteProc = hostile_worker.zygote
    for cmd in ({"op": "spawn", "id": "a.b"}, {"op": "spawn", "id": "x" * 200}, {"op": "spawn", "id": "ok-1",
                                                                                  "pool": "p.>"}):
        zygote.send(cmd)
        event = zygote.wait_event(lambda e: e.get("event") in ("error", "spawned"), timeout=10)
        assert event["event"] == "error", event


def test_no_reply_in_this_module_carried_a_secret(hostile_worker: HostileWorker) -> None:
    reply = hostile_worker.client.call(hostile_worker.own, _predict(signature="q -> a: os.environ"))
    assert reply.status == 400 and not leaks(reply.data)
    assert hostile_worker.client.call(hostile_worker.own, {"op": "ping"}).status == 0


def test_an_answer_msgpack_cannot_carry_still_gets_a_reply(hostile_worker: HostileWorker) -> None:
    # A 30-digit integer parsed for an int field used to make the reply unencodable: the caller got silence.
    big = "123456789012345678901234567890"
    for as_json in (False, True):
        reply = hostile_worker.client.call(hostile_worker.own, {**_predict(signature="q -> a: int"), "config": {
            "dummy_script": [{"a": big}]}}, as_json=as_json, timeout=20)
        assert reply.status == 0, reply.data[:300]
        assert reply.body(as_json)["outputs"] == {"a": big}


@pytest.mark.parametrize("deadline", ["NaN", "inf", "-inf", "1e999", "soon"])
def test_a_deadline_that_is_not_a_finite_number_is_a_400(hostile_worker: HostileWorker, deadline: str) -> None:
    reply = hostile_worker.client.call(hostile_worker.own, _predict(), headers={"Dspex-Deadline": deadline})
    assert reply.status == 400
    assert reply.body(False)["error"]["details"]["field"] == "Dspex-Deadline"
