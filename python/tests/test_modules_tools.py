"""ReAct tool callbacks, BestOfN/Refine rewards over NATS, module option checks and per-call config,
against a real nats-server and forked workers (tool responders are plain nats-py subscriptions)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import msgpack
import pytest

from .conftest import PREFIX, ZygoteProc, call, ping_until_ready

pytestmark = pytest.mark.asyncio(loop_scope="session")

SUBJECT = f"{PREFIX}.pool.t.t-main"


async def serve_tool(nc: Any, name: str, fn: Any) -> Any:
    async def cb(msg: Any) -> None:
        args = msgpack.unpackb(msg.data)["args"]
        try:
            body, headers = {"result": fn(**args)}, None
        except Exception as exc:  # noqa: BLE001 - the error reply a node would send
            body = {"error": {"code": "internal", "message": f"tool {name} threw: {exc}", "retryable": False}}
            headers = {"Nats-Service-Error-Code": "500", "Nats-Service-Error": str(exc)}
        await msg.respond(msgpack.packb(body)) if headers is None else await nc.publish(
            msg.reply, msgpack.packb(body), headers=headers)

    sub = await nc.subscribe(f"{PREFIX}.tool.{name}", queue="dspex-tools", cb=cb)
    await nc.flush()
    return sub


def react(tools: list[dict[str, Any]], script: list[dict[str, Any]]) -> dict[str, Any]:
    return {"op": "predict", "module": "ReAct", "signature": "question -> answer", "inputs": {"question": "q"},
            "tools": tools, "config": {"dummy_script": script}}


def step(tool: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"next_thought": f"use {tool}", "next_tool_name": tool, "next_tool_args": args}


FINISH = [step("finish", {}), {"reasoning": "r", "answer": "done"}]
ADD = {"name": "py_add", "description": "adds", "parameters": {
    "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}}


async def test_react_calls_a_tool_over_nats_and_records_the_observation(nc: Any, worker: str) -> None:
    sub = await serve_tool(nc, "py_add", lambda a, b: a + b)
    try:
        _, body = await call(nc, SUBJECT, react([ADD], [step("py_add", {"a": 2, "b": 40}), *FINISH]), timeout=30)
    finally:
        await sub.unsubscribe()
    t = body["outputs"]["trajectory"]
    assert t["observation_0"] == 42
    assert body["outputs"]["answer"] == "done"


async def test_a_failing_or_missing_tool_becomes_an_observation(nc: Any, worker: str) -> None:
    def boom(a: int, b: int) -> int:
        raise RuntimeError("disk full")

    sub = await serve_tool(nc, "py_add", boom)
    try:
        script = [step("py_add", {"a": 1, "b": 2}), step("nobody", {}), *FINISH]
        nobody = {"name": "nobody", "description": "no node serves it"}
        _, body = await call(nc, SUBJECT, react([ADD, nobody], script), timeout=30)
    finally:
        await sub.unsubscribe()
    t = body["outputs"]["trajectory"]
    assert "tool py_add failed" in t["observation_0"] and "disk full" in t["observation_0"]
    assert "no runtime node serves it" in t["observation_1"]


async def test_a_tool_not_listed_in_the_request_is_never_called(nc: Any, worker: str) -> None:
    called: list[Any] = []
    sub = await serve_tool(nc, "secret", lambda **kw: called.append(kw) or "leaked")
    try:
        _, body = await call(nc, SUBJECT, react([ADD], [step("secret", {}), *FINISH]), timeout=30)
    finally:
        await sub.unsubscribe()
    assert called == []
    # next_tool_name is a Literal of the listed tools: DSPy cannot even parse a reply naming another.
    assert body["error"]["code"] == "lm_error"


async def test_a_silent_tool_times_out_into_an_observation(nc: Any, zygote: ZygoteProc) -> None:
    zygote.spawn("toolwait-1", pool="toolwait", env={"DSPEX_TOOL_TIMEOUT_MS": "300"})
    await ping_until_ready(nc, f"{PREFIX}.pool.toolwait.toolwait-1")
    async def never_answer(msg: Any) -> None:
        pass

    sub = await nc.subscribe(f"{PREFIX}.tool.silent", cb=never_answer)
    try:
        silent = {"name": "silent", "description": "never answers"}
        _, body = await call(nc, f"{PREFIX}.pool.toolwait.toolwait-1", react([silent], [step("silent", {}), *FINISH]),
                             timeout=30)
    finally:
        await sub.unsubscribe()
    assert "did not answer within 0.3s" in body["outputs"]["trajectory"]["observation_0"]


async def test_best_of_n_scores_attempts_with_a_reward_tool(nc: Any, worker: str) -> None:
    scored: list[Any] = []

    def score(inputs: dict[str, Any], outputs: dict[str, Any]) -> float:
        scored.append((inputs, outputs))
        return 1.0 if outputs["answer"] == "4" else 0.0

    sub = await serve_tool(nc, "score", score)
    try:
        request = {"op": "predict", "module": "BestOfN", "signature": "question -> answer",
                   "inputs": {"question": "2+2?"},
                   "options": {"N": 3, "threshold": 1, "reward": {"kind": "tool", "name": "score"}},
                   "config": {"dummy_script": [{"answer": "5"}, {"answer": "4"}, {"answer": "6"}]}}
        _, body = await call(nc, SUBJECT, request, timeout=30)
    finally:
        await sub.unsubscribe()
    assert body["outputs"] == {"answer": "4"}
    assert scored == [({"question": "2+2?"}, {"answer": "5"}), ({"question": "2+2?"}, {"answer": "4"})]


@pytest.mark.parametrize(("extra", "field"), [
    ({"module": "ReAct", "options": {"max_iters": 99}}, "options.max_iters"),
    ({"module": "ReAct", "options": {"M": 2}}, "options.M"),
    ({"module": "Predict", "tools": [ADD]}, "tools"),
    ({"module": "ReAct", "demos": [{"question": "q", "answer": "a"}]}, "demos"),
    ({"module": "MultiChainComparison", "options": {"M": 2}, "completions": [{"reasoning": "r", "answer": "a"}]},
     "completions"),
    ({"module": "MultiChainComparison", "options": {"M": 1}, "completions": [{"answer": "a"}]},
     "completions.0.reasoning"),
    ({"module": "BestOfN", "options": {"threshold": 1, "reward": {"kind": "tool", "name": "x"}}}, "options.N"),
    ({"module": "Refine", "options": {"N": 2, "threshold": 1, "reward": {"kind": "tool", "name": "a.b"}}},
     "options.reward.name"),
    ({"module": "BestOfN", "options": {"N": 2, "threshold": 1, "base": "ReAct",
                                       "reward": {"kind": "builtin", "name": "non_empty", "field": "answer"}}},
     "options.base"),
    ({"module": "Predict", "state": {"signature": {"instructions": 1}}}, "state.signature.instructions"),
])
async def test_bad_module_fields_are_400_naming_the_field(nc: Any, worker: str, extra: dict[str, Any],
                                                         field: str) -> None:
    request = {"op": "predict", "signature": "question -> answer", "inputs": {"question": "q"}, **extra}
    headers, body = await call(nc, SUBJECT, request)
    assert headers.get("Nats-Service-Error-Code") == "400", body
    assert body["error"]["details"]["field"] == field


# --- per-call config reaches the LM -----------------------------------------------------------


class Recorder(BaseHTTPRequestHandler):
    """A minimal OpenAI-compatible chat endpoint that records each request body."""

    seen: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Recorder.seen.append(body)
        text = "[[ ## answer ## ]]\nrecorded\n\n[[ ## completed ## ]]"
        reply = {"id": "x", "object": "chat.completion", "created": 0, "model": body.get("model", "m"),
                 "choices": [{"index": 0, "finish_reason": "stop",
                              "message": {"role": "assistant", "content": text}}],
                 "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def openai_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


async def test_per_call_config_and_lm_name_reach_the_model(nc: Any, zygote: ZygoteProc, openai_url: str) -> None:
    zygote.spawn("cfgrec-1", pool="cfgrec", lm="openai/default-model",
                 env={"DSPEX_LM_API_BASE": openai_url, "DSPEX_LM_API_KEY": "test"})
    await ping_until_ready(nc, f"{PREFIX}.pool.cfgrec.cfgrec-1")
    Recorder.seen.clear()
    request = {"op": "predict", "module": "Predict", "signature": "question -> answer",
               "inputs": {"question": "config?"},
               "config": {"temperature": 0.3, "max_tokens": 77, "lm": "openai/other-model", "cache": False}}
    _, body = await call(nc, f"{PREFIX}.pool.cfgrec.cfgrec-1", request, timeout=30)
    assert body["outputs"] == {"answer": "recorded"}
    sent = Recorder.seen[-1]
    assert sent["model"] == "other-model"
    assert sent["temperature"] == 0.3
    # The OpenAI provider spells it max_completion_tokens on the wire.
    assert sent.get("max_tokens", sent.get("max_completion_tokens")) == 77
