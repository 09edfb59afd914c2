"""Shape checks for the pipeline and session messages (docs/pipelines.md, docs/sessions.md).

Mirrors ``src/protocol/pipelines.ts`` and ``src/protocol/sessions.ts``: workers never receive these
messages, but any Python client of dspex may send or read them, and the shared fixtures keep the
two languages in step. Each check raises :class:`~dspex_worker.errors.BadRequest` naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .errors import BadRequest, WorkerError, field_error
from .signature_grammar import check_signature

TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
STAGE_KINDS = ("predict", "llm", "fn", "transform")
TRANSFORM_OPS = ("identity", "join", "split", "flatten", "template", "pick")
POLICIES = ("fail_fast", "continue")
RUN_STATUSES = ("queued", "running", "completed", "partial", "failed")


def _bad(name: str, message: str) -> WorkerError:
    return field_error(BadRequest, name, message)


def _map(value: object, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise _bad(name, "expected a map")
    return value


def _num(msg: Mapping[str, Any], key: str, prefix: str = "", *, required: bool = True,
         integer: bool = False, minimum: float | None = None, nullable: bool = False) -> None:
    name = prefix + key
    if key not in msg or (msg[key] is None and nullable):
        if required and key not in msg:
            raise _bad(name, "is required")
        return
    v = msg[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or (integer and not isinstance(v, int)):
        raise _bad(name, "expected an integer" if integer else "expected a number")
    if minimum is not None and v < minimum:
        raise _bad(name, f"expected >= {minimum}")


def _str(msg: Mapping[str, Any], key: str, prefix: str = "", *, required: bool = True,
         pattern: re.Pattern[str] | None = None, choices: tuple[str, ...] | None = None) -> None:
    name = prefix + key
    if key not in msg:
        if required:
            raise _bad(name, "is required")
        return
    v = msg[key]
    if not isinstance(v, str) or v == "":
        raise _bad(name, "expected a non-empty string")
    if pattern is not None and not pattern.match(v):
        raise _bad(name, "expected letters, digits, '_' or '-'")
    if choices is not None and v not in choices:
        raise _bad(name, f"expected one of {', '.join(choices)}")


def _ref(value: object, name: str) -> None:
    ref = _map(value, name)
    keys = set(ref)
    if keys == {"input"}:
        _str(ref, "input", name + ".")
    elif keys in ({"stage"}, {"stage", "output"}):
        _str(ref, "stage", name + ".", pattern=TOKEN)
        _str(ref, "output", name + ".", required=False)
    elif keys != {"value"}:
        raise _bad(name, "expected {input}, {stage, output?} or {value}")


def _refs(msg: Mapping[str, Any], key: str, prefix: str) -> None:
    if key in msg:
        for k, v in _map(msg[key], prefix + key).items():
            _ref(v, f"{prefix}{key}.{k}")


def _stage(value: object, name: str) -> None:
    stage = _map(value, name)
    p = name + "."
    _str(stage, "id", p, pattern=TOKEN)
    _str(stage, "kind", p, choices=STAGE_KINDS)
    _refs(stage, "inputs", p)
    if "map" in stage:
        m = _map(stage["map"], p + "map")
        _str(m, "over", p + "map.")
        _num(m, "concurrency", p + "map.", required=False, integer=True, minimum=1)
    _num(stage, "timeout_ms", p, required=False, integer=True, minimum=1)
    _num(stage, "retries", p, required=False, integer=True, minimum=0)
    _num(stage, "backoff_ms", p, required=False, integer=True, minimum=0)
    kind = stage["kind"]
    if kind == "predict":
        _str(stage, "module", p)
    if kind in ("predict", "llm"):
        _str(stage, "signature", p)
        check_signature(stage["signature"], p + "signature")
    elif kind == "fn":
        _str(stage, "fn", p, pattern=TOKEN)
    else:
        _str(stage, "op", p, choices=TRANSFORM_OPS)


def _pipeline(value: object, name: str) -> None:
    spec = _map(value, name)
    _str(spec, "name", name + ".")
    stages = spec.get("stages")
    if not isinstance(stages, list) or not 1 <= len(stages) <= 256:
        raise _bad(name + ".stages", "expected a list of 1 to 256 stages")
    for i, stage in enumerate(stages):
        _stage(stage, f"{name}.stages.{i}")
    _str(spec, "policy", name + ".", required=False, choices=POLICIES)
    _refs(spec, "outputs", name + ".")


def check_pipeline_run_request(msg: object) -> None:
    """``dspex.rpc.pipeline.run`` request: ``{pipeline, inputs?, run_id?, policy?}``."""
    body = _map(msg, "body")
    _pipeline(body.get("pipeline"), "pipeline")
    if "inputs" in body:
        _map(body["inputs"], "inputs")
    _str(body, "run_id", required=False, pattern=TOKEN)
    _str(body, "policy", required=False, choices=POLICIES)


def check_pipeline_run_reply(msg: object) -> None:
    body = _map(msg, "body")
    _str(body, "run_id", pattern=TOKEN)
    _str(body, "events")


def check_pipeline_job(msg: object) -> None:
    """A job on the work-queue stream (``<prefix>.jobs.pipeline``)."""
    body = _map(msg, "body")
    _str(body, "run_id", pattern=TOKEN)
    _pipeline(body.get("pipeline"), "pipeline")
    _map(body.get("inputs"), "inputs")
    _str(body, "policy", choices=POLICIES)
    _num(body, "submitted_at")


def _error(body: Mapping[str, Any], key: str) -> None:
    err = _map(body.get(key), key)
    _str(err, "code", key + ".")
    if not isinstance(err.get("retryable"), bool):
        raise _bad(key + ".retryable", "expected a boolean")


def _finished(body: Mapping[str, Any]) -> None:
    _map(body.get("stages"), "stages")
    if not isinstance(body.get("failures"), list):
        raise _bad("failures", "expected a list")
    if not isinstance(body.get("skipped"), list):
        raise _bad("skipped", "expected a list")
    _num(body, "duration_ms", minimum=0)


def _run_started(b: Mapping[str, Any]) -> None:
    _str(b, "node")
    _num(b, "attempt", integer=True, minimum=1)
    _num(b, "total", integer=True, minimum=0)
    if not isinstance(b.get("restored"), list):
        raise _bad("restored", "expected a list")


def _stage_started(b: Mapping[str, Any]) -> None:
    _num(b, "items", required=False, integer=True, minimum=0)


def _stage_retrying(b: Mapping[str, Any]) -> None:
    _num(b, "attempt", integer=True, minimum=1)
    _num(b, "delay_ms", minimum=0)
    _error(b, "error")


def _stage_completed(b: Mapping[str, Any]) -> None:
    _map(b.get("outputs"), "outputs")
    _num(b, "duration_ms", minimum=0)


def _stage_failed(b: Mapping[str, Any]) -> None:
    _error(b, "error")


def _stage_skipped(b: Mapping[str, Any]) -> None:
    _str(b, "reason")


def _progress(b: Mapping[str, Any]) -> None:
    _num(b, "done", integer=True, minimum=0)
    _num(b, "total", integer=True, minimum=0)
    _num(b, "eta_ms", minimum=0, nullable=True)


def _run_completed(b: Mapping[str, Any]) -> None:
    _str(b, "status", choices=("completed", "partial"))
    _map(b.get("outputs"), "outputs")
    _finished(b)


def _run_failed(b: Mapping[str, Any]) -> None:
    _error(b, "error")
    _finished(b)


_EVENTS: dict[str, Callable[[Mapping[str, Any]], None]] = {
    "run.started": _run_started,
    "stage.started": _stage_started,
    "stage.retrying": _stage_retrying,
    "stage.completed": _stage_completed,
    "stage.failed": _stage_failed,
    "stage.skipped": _stage_skipped,
    "progress": _progress,
    "run.completed": _run_completed,
    "run.failed": _run_failed,
}


def check_pipeline_event(msg: object) -> None:
    """An event on ``<prefix>.pipeline.<run_id>.events``."""
    body = _map(msg, "body")
    _str(body, "type", choices=tuple(_EVENTS))
    _str(body, "run_id", pattern=TOKEN)
    _num(body, "ts")
    if str(body["type"]).startswith("stage."):
        _str(body, "stage", pattern=TOKEN)
    _EVENTS[body["type"]](body)


def check_run_record(msg: object) -> None:
    """A run record (``run.<run_id>`` in the runs bucket; reply of ``pipeline.get``)."""
    body = _map(msg, "body")
    _str(body, "run_id", pattern=TOKEN)
    _str(body, "pipeline")
    _str(body, "status", choices=RUN_STATUSES)
    _num(body, "attempt", integer=True, minimum=0)
    _num(body, "submitted_at")


def check_session_open_request(msg: object) -> None:
    body = _map(msg, "body")
    _str(body, "id", required=False, pattern=SESSION_ID)
    _num(body, "ttl_ms", required=False, integer=True, minimum=1000)
    if "state" in body:
        _map(body["state"], "state")


def check_session_id_request(msg: object) -> None:
    _str(_map(msg, "body"), "id", pattern=SESSION_ID)


def check_session_record(msg: object) -> None:
    """A session record (the sessions bucket; reply of ``session.*``)."""
    body = _map(msg, "body")
    _str(body, "id", pattern=SESSION_ID)
    _str(body, "status", choices=("open", "closed"))
    for key in ("created_at", "updated_at", "expires_at"):
        _num(body, key)
    _num(body, "ttl_ms", integer=True, minimum=1)
    _str(body, "node")
    _map(body.get("state"), "state")
    history = body.get("history")
    if not isinstance(history, list):
        raise _bad("history", "expected a list")
    for i, entry in enumerate(history):
        e = _map(entry, f"history.{i}")
        _str(e, "module", f"history.{i}.")
        if not isinstance(e.get("ok"), bool):
            raise _bad(f"history.{i}.ok", "expected a boolean")
        _num(e, "latency_ms", f"history.{i}.", minimum=0)
    metrics = _map(body.get("metrics"), "metrics")
    for key in ("calls", "errors"):
        _num(metrics, key, "metrics.", integer=True, minimum=0)
    if "affinity" in body:
        _str(_map(body["affinity"], "affinity"), "worker", "affinity.")


RUN_CHECKS: dict[str, Callable[[object], None]] = {
    "pipeline_run_request": check_pipeline_run_request,
    "pipeline_run_reply": check_pipeline_run_reply,
    "pipeline_event": check_pipeline_event,
    "pipeline_job": check_pipeline_job,
    "run_record": check_run_record,
    "session_open_request": check_session_open_request,
    "session_id_request": check_session_id_request,
    "session_record": check_session_record,
}
