"""Shape checks of the variable messages (``dspex.rpc.var.*`` bodies and the KV record), mirroring
src/protocol/variables.ts, so Python clients and the shared fixtures agree with the TS side.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .errors import quote
from .protocol import _bad, _field, _is_map, _is_num, _is_str, _is_uint, _require_map
from .signature_grammar import check_type_text

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_OPERATIONS = ("PUT", "DEL", "PURGE")


def _name(body: Mapping[str, Any], field: str = "name") -> None:
    name = _field(body, field, _is_str, required=True)
    if not _NAME.match(name):
        raise _bad(field, 'expected 1-128 letters, digits, "_" or "-"')


def _revision(body: Mapping[str, Any], field: str, *, required: bool) -> None:
    rev = _field(body, field, _is_uint, required=required)
    if rev is not None and rev < 1:
        raise _bad(field, "must be >= 1")


def _has_value(body: Mapping[str, Any]) -> None:
    if "value" not in body:
        raise _bad("value", "is required")


def check_var_record(msg: object) -> None:
    body = _require_map(msg, "variable record")
    _name(body)
    _has_value(body)
    _spec(body, required=True)
    _field(body, "node", _is_str, required=True)
    _field(body, "at", _is_num, required=True)
    _revision(body, "revision", required=True)
    _field(body, "score", _is_num, required=False)
    _field(body, "by", _is_str, required=False)
    _field(body, "inputs", _is_map, required=False)


def check_var_get_request(msg: object) -> None:
    body = _require_map(msg, "request body")
    _name(body)
    _revision(body, "revision", required=False)


def check_var_set_request(msg: object) -> None:
    body = _require_map(msg, "request body")
    _name(body)
    _has_value(body)
    _revision(body, "revision", required=False)
    for name in ("by", "holder"):
        _field(body, name, _is_str, required=False)
    _field(body, "score", _is_num, required=False)


def _spec(body: Mapping[str, Any], required: bool) -> None:
    spec = _field(body, "spec", _is_map, required=required)
    if spec is not None and spec.get("type") is not None:
        type_text = _field(spec, "type", _is_str, required=True, prefix="spec.")
        check_type_text(type_text, "spec.type")


def check_var_define_request(msg: object) -> None:
    body = _require_map(msg, "request body")
    _name(body)
    _has_value(body)
    _spec(body, required=False)


def check_var_list_request(msg: object) -> None:
    body = _require_map(msg, "request body")
    _field(body, "prefix", _is_str, required=False)


def check_var_history_request(msg: object) -> None:
    body = _require_map(msg, "request body")
    _name(body)
    _revision(body, "limit", required=False)


def check_var_history_reply(msg: object) -> None:
    body = _require_map(msg, "reply body")
    _name(body)
    entries = body.get("entries")
    if not isinstance(entries, list | tuple):
        raise _bad("entries", "must be a list")
    for i, entry in enumerate(entries):
        if not _is_map(entry):
            raise _bad(f"entries.{i}", "must be a map")
        _revision(entry, "revision", required=True)
        if entry.get("operation") not in _OPERATIONS:
            raise _bad(f"entries.{i}.operation", f"must be one of {', '.join(_OPERATIONS)}")
        _field(entry, "at", _is_num, required=True, prefix=f"entries.{i}.")


def check_var_lease_request(msg: object) -> None:
    body = _require_map(msg, "request body")
    names = body.get("names")
    if not isinstance(names, list | tuple) or not names:
        raise _bad("names", "must be a non-empty list of variable names")
    for name in names:
        if not isinstance(name, str) or not _NAME.match(name):
            raise _bad("names", f"{quote(name)} is not a variable name")
    _field(body, "holder", _is_str, required=True)


CHECKS: dict[str, Callable[[object], None]] = {
    "var_record": check_var_record,
    "var_get_request": check_var_get_request,
    "var_set_request": check_var_set_request,
    "var_define_request": check_var_define_request,
    "var_list_request": check_var_list_request,
    "var_history_request": check_var_history_request,
    "var_history_reply": check_var_history_reply,
    "var_lease_request": check_var_lease_request,
}
