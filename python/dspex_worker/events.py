"""Shape checks of the telemetry events on ``<prefix>.events.call|anomaly|adaptation``, mirroring
src/protocol/events.ts, so the shared fixtures agree in both languages. The worker does not publish
these yet: they are checked here for Python subscribers (dashboards, notebooks) and the fixtures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .protocol import _bad, _field, _is_map, _is_num, _is_str, _is_uint, _require_map

OUTCOMES = ("ok", "error", "parse_failure", "validation_failure")
SCOPES = ("pool", "worker", "module", "model")
KINDS = ("latency_shift", "tail_latency", "error_rate", "parse_failures", "token_drift", "cost_drift",
         "output_length_drift", "rss_growth")
PHASES = ("suggested", "applied", "failed", "observed", "reverted")
ACTIONS = ("avoid_worker", "restore_worker", "recycle_worker", "resize_pool", "set_fallback_model",
           "set_hedging", "optimizer")


def _one_of(body: Mapping[str, Any], name: str, allowed: tuple[str, ...], prefix: str = "") -> None:
    value = _field(body, name, _is_str, required=True, prefix=prefix)
    if value not in allowed:
        raise _bad(prefix + name, f"must be one of {', '.join(allowed)}, got {value!r}")


def _check_call(call: object, prefix: str) -> None:
    body = _require_map(call, prefix.rstrip("."))
    for name in ("pool", "module", "signature"):
        _field(body, name, _is_str, required=True, prefix=prefix)
    for name in ("ts", "latency_ms"):
        if _field(body, name, _is_num, required=True, prefix=prefix) < 0:
            raise _bad(prefix + name, "must be >= 0")
    _one_of(body, "outcome", OUTCOMES, prefix)
    for name in ("worker", "model", "code", "trace"):
        _field(body, name, _is_str, required=False, prefix=prefix)
    for name in ("tokens_in", "tokens_out", "output_chars", "retries"):
        _field(body, name, _is_uint, required=False, prefix=prefix)
    _field(body, "cost_usd", _is_num, required=False, prefix=prefix)


def check_call_batch(msg: object) -> None:
    body = _require_map(msg, "call batch")
    _field(body, "node", _is_str, required=True)
    for name in ("seq", "dropped"):
        _field(body, name, _is_uint, required=True)
    rate = _field(body, "sample_rate", _is_num, required=True)
    if not 0 < rate <= 1:
        raise _bad("sample_rate", "must be in (0, 1]")
    calls = body.get("calls")
    if not isinstance(calls, list) or not 1 <= len(calls) <= 1000:
        raise _bad("calls", "must be a list of 1 to 1000 call records")
    for i, call in enumerate(calls):
        _check_call(call, f"calls.{i}.")


def _check_key(body: Mapping[str, Any], name: str) -> None:
    key = _field(body, name, _is_map, required=True)
    _one_of(key, "scope", SCOPES, f"{name}.")
    _field(key, "id", _is_str, required=True, prefix=f"{name}.")


def _check_evidence(body: Mapping[str, Any]) -> None:
    ev = _field(body, "evidence", _is_map, required=True)
    window = _field(ev, "window", _is_map, required=True, prefix="evidence.")
    _field(window, "samples", _is_uint, required=True, prefix="evidence.window.")
    baseline = _field(ev, "baseline", _is_map, required=True, prefix="evidence.")
    for name in ("median", "mad", "ewma"):
        _field(baseline, name, _is_num, required=True, prefix="evidence.baseline.")
    for name in ("value", "score", "threshold"):
        _field(ev, name, _is_num, required=True, prefix="evidence.")


def check_anomaly_event(msg: object) -> None:
    body = _require_map(msg, "anomaly event")
    for name in ("id", "node"):
        _field(body, name, _is_str, required=True)
    _one_of(body, "kind", KINDS)
    _one_of(body, "state", ("raised", "cleared"))
    _check_key(body, "key")
    _check_evidence(body)


def check_adaptation_event(msg: object) -> None:
    body = _require_map(msg, "adaptation event")
    for name in ("id", "node", "policy"):
        _field(body, name, _is_str, required=True)
    _one_of(body, "phase", PHASES)
    if not isinstance(body.get("dry_run"), bool):
        raise _bad("dry_run", "is required and must be a boolean")
    trigger = _field(body, "trigger", _is_map, required=True)
    _one_of(trigger, "kind", KINDS, "trigger.")
    _check_key(trigger, "key")
    _check_evidence(body)
    action = _field(body, "action", _is_map, required=True)
    _one_of(action, "type", ACTIONS, "action.")
    expected = _field(body, "expected", _is_map, required=True)
    _one_of(expected, "direction", ("decrease", "increase"), "expected.")


CHECKS: dict[str, Callable[[object], None]] = {
    "call_batch": check_call_batch,
    "anomaly_event": check_anomaly_event,
    "adaptation_event": check_adaptation_event,
}
