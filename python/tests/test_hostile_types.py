"""Issue 9, class 1: secrets through type names, sent straight to a worker's subjects.

A raw NATS client bypasses the node, so the worker itself must refuse every type name outside the
grammar (400 naming ``signature``) without resolving it: no reply may carry the environment or the
command line, and no annotation may reach pydantic as a 500.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .hostile import HostileWorker, hostile_signatures, hostile_types, leaks

EXAMPLES = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _inputs(signature: str) -> dict[str, Any]:
    names = [part.split(":")[0].strip() for part in signature.split("->")[0].split(",") if part.strip()]
    return {name: "x" for name in names}


def _predict(signature: str, **extra: Any) -> dict[str, Any]:
    return {"op": "predict", "module": "Predict", "signature": signature, "inputs": _inputs(signature), **extra}


def _compile(signature: str) -> dict[str, Any]:
    row = {**_inputs(signature), "a": "x"}
    return {"op": "compile", "run_id": "hostile-run", "optimizer": "BootstrapFewShot", "signature": signature,
            "trainset": [row], "metric": {"name": "contains", "field": "a"}}


def _assert_refused(worker: HostileWorker, body: dict[str, Any], as_json: bool, subject: str) -> None:
    reply = worker.client.call(subject, body, as_json=as_json)
    assert not leaks(reply.data) and not leaks(reply.headers), f"secret in the reply to {body['signature']!r}"
    assert reply.status == 400, (body["signature"], reply.status, reply.data[:300])
    error = reply.body(as_json)["error"]
    assert error["code"] == "bad_request"
    assert error["details"]["field"] == "signature"


@EXAMPLES
@given(signature=hostile_signatures(), op=st.sampled_from(("predict", "compile")), as_json=st.booleans(),
       pool=st.booleans())
def test_a_type_name_outside_the_grammar_is_a_400_naming_signature(
    hostile_worker: HostileWorker, signature: str, op: str, as_json: bool, pool: bool
) -> None:
    body = _predict(signature) if op == "predict" else _compile(signature)
    _assert_refused(hostile_worker, body, as_json, hostile_worker.pool if pool else hostile_worker.own)


@pytest.mark.parametrize("signature", ["q: os.environ -> a", "q: sys.argv -> a", "q -> a: os.environ",
                                       "q: list[os.environ] -> a", "q: Optional[sys.argv] -> a"])
def test_the_environment_and_the_command_line_never_come_back(hostile_worker: HostileWorker, signature: str) -> None:
    for body in (_predict(signature), _compile(signature)):
        for as_json in (False, True):
            _assert_refused(hostile_worker, body, as_json, hostile_worker.own)


import_strings = st.sampled_from(("pydantic.ImportString", "ImportString", "pydantic.types.ImportString",
                                  "Optional[pydantic.ImportString]", "list[pydantic.ImportString]",
                                  "pydantic.ImportString | None", "dict[str, pydantic.ImportString]"))
targets = st.sampled_from(("os.environ", "os:environ", "sys.argv", "sys:argv", "builtins.__import__",
                           "dspex_worker.cli", "posix.environ"))


@EXAMPLES
@given(type_text=import_strings, target=targets, as_json=st.booleans(), via=st.sampled_from(("script", "demos")))
def test_an_import_string_output_cannot_import_anything(
    hostile_worker: HostileWorker, type_text: str, target: str, as_json: bool, via: str
) -> None:
    value: Any = [target] if type_text.startswith("list") else {"k": target} if type_text.startswith("dict") else target
    extra: dict[str, Any] = (
        {"config": {"dummy_script": [{"a": value}] * 3}} if via == "script" else {"demos": [{"q": "x", "a": value}]}
    )
    _assert_refused(hostile_worker, _predict(f"q -> a: {type_text}", **extra), as_json, hostile_worker.own)


@pytest.mark.parametrize("type_text", ["re.Pattern", "socket.socket", "threading.Lock", "typing.Callable",
                                       "collections.abc.Callable", "type", "object", "bytes", "complex",
                                       "frozenset", "typing.Iterator[int]", "dspy.Type", "set[list[int]]"])
def test_annotations_pydantic_cannot_handle_are_a_400_not_a_500(hostile_worker: HostileWorker, type_text: str) -> None:
    _assert_refused(hostile_worker, _predict(f"q -> a: {type_text}"), False, hostile_worker.own)


@EXAMPLES
@given(type_text=hostile_types, as_json=st.booleans())
def test_the_worker_still_serves_good_calls_between_hostile_ones(
    hostile_worker: HostileWorker, type_text: str, as_json: bool
) -> None:
    _assert_refused(hostile_worker, _predict(f"q: {type_text} -> a"), as_json, hostile_worker.own)
    reply = hostile_worker.client.call(hostile_worker.own, _predict("q: str -> a: list[int]"), as_json=as_json)
    assert reply.status == 0, reply.data[:300]
    assert reply.body(as_json)["outputs"] == {"a": [42]}
