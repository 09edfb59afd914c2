"""Body encoding: msgpack by default, JSON when the request says ``Content-Type: application/json``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import msgpack

from .errors import BadRequest

JSON = "application/json"


def wants_json(headers: Mapping[str, str] | None) -> bool:
    if not headers:
        return False
    for key, value in headers.items():
        if key.lower() == "content-type":
            return value.split(";")[0].strip().lower() == JSON
    return False


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A header's value, matched case-insensitively."""
    if not headers:
        return None
    lname = name.lower()
    for key, value in headers.items():
        if key.lower() == lname:
            return value
    return None


def decode(data: bytes, as_json: bool) -> Any:
    """Decode a request body; raises BadRequest when it is not valid msgpack/JSON."""
    try:
        if as_json:
            return json.loads(data.decode("utf-8"))
        # raw=False: map keys and strings come back as str; strict_map_key keeps keys str/bytes only.
        return msgpack.unpackb(data, raw=False, strict_map_key=True)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, UnicodeDecodeError) as exc:
        kind = "JSON" if as_json else "msgpack"
        raise BadRequest(f"body is not valid {kind}: {exc}", details={"field": "body"}) from exc


def encode(body: Mapping[str, Any], as_json: bool) -> bytes:
    plain = to_plain(body)
    if as_json:
        return json.dumps(plain, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return msgpack.packb(plain, use_bin_type=True)  # type: ignore[no-any-return]


def to_plain(value: Any) -> Any:
    """Reduce DSPy outputs (pydantic models, tuples, custom types) to JSON-able values."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_plain(v) for v in value]
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return to_plain(dump(mode="json"))
        except Exception:  # noqa: BLE001 - fall back to text for exotic models
            return str(value)
    return str(value)
