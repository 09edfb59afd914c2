"""Shape checks for every message in docs/protocol.md, mirrored by the zod schemas in src/protocol/.

Each check takes a decoded body and raises :class:`~dspex_worker.errors.BadRequest` naming the first
offending field (``details.field``). :func:`parse_worker_request` turns a request on a pool subject into
a typed value; code past it trusts its types. Unknown extra fields are ignored everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from .errors import BadRequest, NotFound, WorkerError, field_error, quote
from .run_protocol import RUN_CHECKS
from .signature_grammar import check_signature

if TYPE_CHECKING:
    from .optimize import CompileCall  # the optimizer pool's op, docs/optimization.md

WORKER_STATES = ("starting", "ready", "busy", "draining", "stopped")
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

# --- primitive checks -------------------------------------------------------------------------


def _bad(name: str, message: str) -> WorkerError:
    return field_error(BadRequest, name, message)


def _is_str(v: object) -> bool:
    return isinstance(v, str)


def _is_num(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_uint(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _is_map(v: object) -> bool:
    return isinstance(v, Mapping) and all(isinstance(k, str) for k in v)


_WHAT: dict[Callable[[object], bool], str] = {
    _is_str: "a string",
    _is_num: "a number",
    _is_uint: "an integer >= 0",
    _is_map: "a map",
}


def _field(msg: Mapping[str, Any], name: str, ok: Callable[[object], bool], *, required: bool,
           prefix: str = "") -> Any:
    path = prefix + name
    if name not in msg or msg[name] is None:
        if required:
            raise _bad(path, "is required")
        return None
    value = msg[name]
    if not ok(value):
        raise _bad(path, f"must be {_WHAT.get(ok, 'valid')}, got {type_name(value)}")
    return value


def type_name(value: object) -> str:
    """The wire (JSON-ish) name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, bytes | bytearray):
        return "binary"
    return type(value).__name__


def _require_map(msg: object, what: str) -> Mapping[str, Any]:
    if not _is_map(msg):
        raise BadRequest(f"{what} must be a map, got {type_name(msg)}", details={"field": "body"})
    assert isinstance(msg, Mapping)
    return msg


# --- message checks ---------------------------------------------------------------------------


def _check_config(config: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    p = "config."
    if (v := _field(config, "temperature", _is_num, required=False, prefix=p)) is not None:
        out["temperature"] = v
    for key in ("max_tokens", "n"):
        v = config.get(key)
        if v is None:
            continue
        if not (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
            raise _bad(p + key, f"must be an integer >= 1, got {type_name(v)}")
        out[key] = v
    if (v := _field(config, "lm", _is_str, required=False, prefix=p)) is not None:
        out["lm"] = v
    if (v := config.get("cache")) is not None:
        if not isinstance(v, bool):
            raise _bad(p + "cache", f"must be a boolean, got {type_name(v)}")
        out["cache"] = v
    if (v := config.get("dummy_script")) is not None:
        out["dummy_script"] = _list_of_maps(v, p + "dummy_script", MAX_SCRIPT)
    return out


MAX_TOOLS = 32
MAX_SCRIPT = 256
MAX_COMPLETIONS = 32
TOOL_NAME_MAX = 64


def _list_of_maps(value: object, name: str, limit: int) -> list[dict[str, Any]]:
    if not isinstance(value, list | tuple):
        raise _bad(name, f"must be a list of maps, got {type_name(value)}")
    if len(value) > limit:
        raise _bad(name, f"has {len(value)} entries, over the limit of {limit}")
    for i, item in enumerate(value):
        if not _is_map(item):
            raise _bad(f"{name}.{i}", f"must be a map, got {type_name(item)}")
    return [dict(item) for item in value]


def is_token(value: object, limit: int = TOOL_NAME_MAX) -> bool:
    """Whether ``value`` may be one subject token: 1-``limit`` ASCII letters, digits, ``_`` or ``-``."""
    return (isinstance(value, str) and 0 < len(value) <= limit
            and all(c.isascii() and (c.isalnum() or c in "_-") for c in value))


def is_tool_name(value: object) -> bool:
    """Tool names travel as subject tokens (``<prefix>.tool.<name>``)."""
    return is_token(value)


def _check_tools(value: object) -> list[dict[str, Any]]:
    tools = _list_of_maps(value, "tools", MAX_TOOLS)
    for i, t in enumerate(tools):
        if not is_tool_name(t.get("name")):
            raise _bad(f"tools.{i}.name", "must be 1-64 letters, digits, '_' or '-'")
        _field(t, "description", _is_str, required=False, prefix=f"tools.{i}.")
        _field(t, "parameters", _is_map, required=False, prefix=f"tools.{i}.")
    return tools


def _check_predict_fields(msg: Mapping[str, Any]) -> PredictCall:
    module = _field(msg, "module", _is_str, required=True)
    signature = _field(msg, "signature", _is_str, required=True)
    check_signature(signature, "signature")  # the grammar, before anything else looks at it
    inputs = _field(msg, "inputs", _is_map, required=True)
    config = _field(msg, "config", _is_map, required=False) or {}
    demos = msg.get("demos")
    if demos is not None:
        if not isinstance(demos, list | tuple):
            raise _bad("demos", f"must be a list of maps, got {type_name(demos)}")
        for i, d in enumerate(demos):
            if not _is_map(d):
                raise _bad(f"demos.{i}", f"must be a map, got {type_name(d)}")
    instructions = _field(msg, "instructions", _is_str, required=False)
    options = _field(msg, "options", _is_map, required=False) or {}
    tools = msg.get("tools")
    completions = msg.get("completions")
    state = _field(msg, "state", _is_map, required=False)
    return PredictCall(
        module=module,
        signature=signature,
        inputs=dict(inputs),
        config=_check_config(config),
        demos=[dict(d) for d in demos or []],
        instructions=instructions,
        options=dict(options),
        tools=_check_tools(tools) if tools is not None else [],
        completions=None if completions is None else _list_of_maps(completions, "completions", MAX_COMPLETIONS),
        state=None if state is None else dict(state),
    )


def check_predict_request(msg: object) -> None:
    """``dspex.rpc.predict`` request."""
    body = _require_map(msg, "request body")
    _check_predict_fields(body)
    _field(body, "session", _is_str, required=False)
    _field(body, "pool", _is_str, required=False)


def check_predict_reply(msg: object) -> None:
    body = _require_map(msg, "reply body")
    _field(body, "outputs", _is_map, required=True)
    _field(body, "worker", _is_str, required=True)
    latency = _field(body, "latency_ms", _is_num, required=True)
    if latency < 0:
        raise _bad("latency_ms", "must be >= 0")
    _field(body, "usage", _is_map, required=False)


def check_error_reply(msg: object) -> None:
    body = _require_map(msg, "reply body")
    err = _field(body, "error", _is_map, required=True)
    _field(err, "code", _is_str, required=True, prefix="error.")
    _field(err, "message", _is_str, required=True, prefix="error.")
    if not isinstance(err.get("retryable"), bool):
        raise _bad("error.retryable", "is required and must be a boolean")
    _field(err, "details", _is_map, required=False, prefix="error.")


def check_worker_heartbeat(msg: object) -> None:
    body = _require_map(msg, "heartbeat")
    for name in ("id", "pool", "host", "version", "lm"):
        _field(body, name, _is_str, required=True)
    for name in ("pid", "inflight", "concurrency", "calls", "rss_bytes", "started_at", "ts", "heartbeat_ms"):
        _field(body, name, _is_uint, required=True)
    state = _field(body, "state", _is_str, required=True)
    if state not in WORKER_STATES:
        raise _bad("state", f"must be one of {', '.join(WORKER_STATES)}, got {quote(state)}")
    _field(body, "node", _is_str, required=False)
    _field(body, "seq", _is_uint, required=False)


def check_node_heartbeat(msg: object) -> None:
    body = _require_map(msg, "heartbeat")
    for name in ("id", "host"):
        _field(body, name, _is_str, required=True)
    for name in ("pid", "started_at", "ts"):
        _field(body, name, _is_uint, required=True)
    pools = body.get("pools")
    if not isinstance(pools, list | tuple) or not all(isinstance(p, str) for p in pools):
        raise _bad("pools", "must be a list of strings")


def check_tool_request(msg: object) -> None:
    """``<prefix>.tool.<name>`` request: ``{args: map}``."""
    body = _require_map(msg, "request body")
    _field(body, "args", _is_map, required=True)


def check_tool_reply(msg: object) -> None:
    """``<prefix>.tool.<name>`` reply: ``{result}`` (any value, null included)."""
    body = _require_map(msg, "reply body")
    if "result" not in body:
        raise _bad("result", "is required")


def parse_worker_request(msg: object) -> WorkerRequest:
    """Check and type a request on ``<prefix>.pool.<pool>[.<worker>]``.

    Raises BadRequest for a bad shape and NotFound for an unknown ``op``.
    """
    body = _require_map(msg, "request body")
    op = _field(body, "op", _is_str, required=True)
    if op == "ping":
        return Ping()
    if op == "predict":
        call = _check_predict_fields(body)
        call_id = _field(body, "id", _is_str, required=False)
        return PredictCall(**{**call.__dict__, "id": call_id})
    if op == "compile":
        from .optimize import parse_compile  # imported here: optimize.py imports this module

        return parse_compile(body)
    raise NotFound(f"unknown op {quote(op)} (expected predict, compile or ping)", details={"field": "op"})


def check_worker_request(msg: object) -> None:
    parse_worker_request(msg)


CHECKS: dict[str, Callable[[object], None]] = {
    "predict_request": check_predict_request,
    "predict_reply": check_predict_reply,
    "error_reply": check_error_reply,
    "worker_request": check_worker_request,
    "worker_heartbeat": check_worker_heartbeat,
    "node_heartbeat": check_node_heartbeat,
    "tool_request": check_tool_request,
    "tool_reply": check_tool_reply,
    **RUN_CHECKS,
}


def check(message_type: str, msg: object) -> None:
    """Check ``msg`` as a message of ``message_type`` (the fixture files' ``type``)."""
    from .events import CHECKS as EVENT_CHECKS  # imported here: events.py imports this module
    from .optimize import CHECKS as OPTIMIZE_CHECKS  # imported here: optimize.py imports this module
    from .variables import CHECKS as VARIABLE_CHECKS  # likewise

    fn = (CHECKS.get(message_type) or OPTIMIZE_CHECKS.get(message_type) or VARIABLE_CHECKS.get(message_type)
          or EVENT_CHECKS.get(message_type))
    if fn is None:
        raise ValueError(f"unknown message type {message_type!r}")
    fn(msg)
