"""Body encoding: msgpack by default, JSON when the request says ``Content-Type: application/json``."""

from __future__ import annotations

import json
import re
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


MAX_DEPTH = 64
"""Deepest nesting of maps and lists accepted in a request body."""


def decode(data: bytes, as_json: bool) -> Any:
    """Decode a request body; raises BadRequest when it is not valid msgpack/JSON or nests too deeply."""
    try:
        if as_json:
            value = json.loads(data.decode("utf-8"))
        else:
            # raw=False: map keys and strings come back as str; strict_map_key keeps keys str/bytes only.
            value = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, UnicodeDecodeError) as exc:
        kind = "JSON" if as_json else "msgpack"
        details: dict[str, Any] = {"field": "body"}
        if isinstance(exc, json.JSONDecodeError):
            details["position"] = exc.pos
        raise BadRequest(f"body is not valid {kind}", details=details) from None
    except RecursionError:
        raise BadRequest(f"body nests deeper than {MAX_DEPTH} levels", details={"field": "body"}) from None
    check_depth(value)
    return value


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """BadRequest when maps and lists nest deeper than ``limit`` (later code recurses over bodies)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            raise BadRequest(f"body nests deeper than {limit} levels", details={"field": "body"})
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


HEADER_MAX = 1024
# C0 and C1 controls, DEL and the Unicode line separators: none may reach a NATS header line.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def header_value(text: str, limit: int = HEADER_MAX) -> str:
    """A value safe to put in a NATS header: control characters become spaces, at most ``limit`` chars."""
    return _CONTROL.sub(" ", text[: limit * 2])[:limit].strip()


def encode(body: Mapping[str, Any], as_json: bool) -> bytes:
    plain = to_plain(body)
    if as_json:
        return json.dumps(plain, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return msgpack.packb(plain, use_bin_type=True)  # type: ignore[no-any-return]


def to_plain(value: Any) -> Any:
    """Reduce DSPy outputs (pydantic models, tuples, custom types) to JSON-able values.

    An integer msgpack cannot carry (outside -2**63 .. 2**64-1, e.g. an LM's 30-digit answer to an
    ``int`` field) becomes its decimal text, so that the reply can always be encoded.
    """
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
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
