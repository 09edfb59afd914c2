"""Every message of docs/protocol.md, checked on the Python side, and the worker's ops as typed values.

:func:`check` validates a decoded message by its type name (the names of the fixture files and of
``messageSchemas`` in ``src/protocol/schemas.ts``) against the JSON Schema generated from the zod
schema (:mod:`contract`), and raises :class:`~dspex_worker.errors.BadRequest` naming the first
offending field (``details.field``), as the node would. Unknown extra fields are ignored wherever the
zod schema ignores them.

:func:`parse_worker_request` turns a request on a pool subject into a :class:`Ping`, a
:class:`PredictCall` or a :class:`~dspex_worker.optimize_request.CompileCall`; code past it trusts its
types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from .contract import Contract, HandCheck
from .errors import BadRequest, NotFound, quote
from .errors import type_name as type_name  # re-exported: values.py, state.py and others name it here
from .optimize_request import CompileCall, compile_call
from .signature_grammar import check_signature, check_type_text

HAND_CHECKS: dict[str, HandCheck] = {
    # What the JSON Schemas cannot express, by the `format` name the generator puts on the field
    # (`refinements` in src/protocol/json-schema.ts lists the same, with the TS side of each):
    "dspex-signature": check_signature,  # the signature grammar, at least one output field
    "dspex-type": check_type_text,  # one type of that grammar (a variable's spec.type)
}
CONTRACT = Contract(HAND_CHECKS)

CONFIG_KEYS = ("temperature", "max_tokens", "n", "lm", "cache", "dummy_script")


@dataclass(frozen=True)
class Ping:
    """``{op: "ping"}``."""


@dataclass(frozen=True)
class PredictCall:
    """``{op: "predict", id, module, signature, inputs, config?, demos?, instructions?, options?, tools?,
    completions?, state?}``."""

    module: str
    signature: str
    inputs: dict[str, Any]
    id: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    demos: list[dict[str, Any]] = field(default_factory=list)
    instructions: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    tools: list[dict[str, Any]] = field(default_factory=list)
    completions: list[dict[str, Any]] | None = None
    state: dict[str, Any] | None = None


WorkerRequest: TypeAlias = "Ping | PredictCall | CompileCall"


def check(message_type: str, msg: object) -> None:
    """Check ``msg`` as a message of ``message_type``; BadRequest (or NotFound for an unknown worker
    ``op``) naming the field otherwise."""
    if message_type == "worker_request":
        parse_worker_request(msg)
    else:
        CONTRACT.validate(message_type, msg)


def compile_worker_validators() -> None:
    """Compile the validators a worker runs per call now (~15 ms), e.g. before a zygote forks."""
    CONTRACT.validator("worker_request", "predict")
    CONTRACT.validator("worker_compile_request")
    CONTRACT.validator("tool_reply")


def check_error_reply(msg: object) -> None:
    CONTRACT.validate("error_reply", msg)


def check_tool_reply(msg: object) -> None:
    """``<prefix>.tool.<name>`` reply: ``{result}`` (any value, null included)."""
    CONTRACT.validate("tool_reply", msg)


def _without_nulls(body: Mapping[str, Any]) -> dict[str, Any]:
    # A worker has always read a null as an absent field in its ops (top level, config, tool specs),
    # which Python clients rely on; the node's zod never sends one.
    return {k: v for k, v in body.items() if v is not None}


def parse_worker_request(msg: object) -> WorkerRequest:
    """Check and type a request on ``<prefix>.pool.<pool>[.<worker>]``.

    Raises BadRequest for a bad shape and NotFound for an unknown ``op``.
    """
    if not isinstance(msg, dict):
        raise BadRequest(f"body: expected map, got {type_name(msg)}", details={"field": "body"})
    op = msg.get("op")
    if not isinstance(op, str):
        what = "is required" if op is None else f"expected string, got {type_name(op)}"
        raise BadRequest(f"op: {what}", details={"field": "op"})
    if op == "ping":
        return Ping()
    body = _without_nulls(msg)
    if op == "compile":
        CONTRACT.validate("worker_compile_request", body)
        return compile_call(body)
    if op != "predict":
        raise NotFound(f"unknown op {quote(op)} (expected predict, compile or ping)", details={"field": "op"})
    if isinstance(body.get("config"), dict):
        body["config"] = _without_nulls(body["config"])
    if isinstance(body.get("tools"), list):
        body["tools"] = [_without_nulls(t) if isinstance(t, dict) else t for t in body["tools"]]
    CONTRACT.validator("worker_request", "predict")(body)
    config = body.get("config", {})
    return PredictCall(
        module=body["module"],
        signature=body["signature"],
        inputs=dict(body["inputs"]),
        id=body.get("id"),
        config={k: config[k] for k in CONFIG_KEYS if k in config},
        demos=[dict(d) for d in body.get("demos", [])],
        instructions=body.get("instructions"),
        options=dict(body.get("options", {})),
        tools=[dict(t) for t in body.get("tools", [])],
        completions=None if "completions" not in body else [dict(c) for c in body["completions"]],
        state=None if "state" not in body else dict(body["state"]),
    )


def is_token(value: object, limit: int = 64) -> bool:
    """Whether ``value`` may be one subject token: 1-``limit`` ASCII letters, digits, ``_`` or ``-``."""
    return (isinstance(value, str) and 0 < len(value) <= limit
            and all(c.isascii() and (c.isalnum() or c in "_-") for c in value))


def is_tool_name(value: object) -> bool:
    """Tool names travel as subject tokens (``<prefix>.tool.<name>``)."""
    return is_token(value)
