"""Turns the errors of a rejected message into one BadRequest, as the node's zod would report it.

zod reports the first offending field in the order the schema lists its keys, names the
discriminator of a tagged union whose tag is unknown, and otherwise the field inside the branch the
tag picks. The same choice is made here over ``jsonschema``'s errors, so a message gets the same
``details.field`` from a node and from a worker (the shared fixtures in ``fixtures/protocol/invalid``
assert it in both suites). Messages say what was expected and quote request values only through
:func:`~dspex_worker.errors.quote` (at most 64 characters; maps and lists by kind), never a repr.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from jsonschema import ValidationError

from .errors import BadRequest, quote, type_name

Schema = dict[str, Any]
Path = Sequence[str | int]

SEGMENT_MAX = 64
_WIRE_TYPES = {"object": "map", "array": "list"}  # the wire's names (docs/protocol.md, "Errors")
_PATTERNS = {"^[A-Za-z0-9_-]+$": "expected letters, digits, '_' or '-'"}


def field_name(path: Path) -> str:
    """The dotted path of a field (``body`` for the whole message); keys longer than 64 are cut."""
    if not path:
        return "body"
    return ".".join(str(p) if isinstance(p, int) else _segment(p) for p in path)


def _segment(key: object) -> str:
    text = key if isinstance(key, str) else type_name(key)
    return text if len(text) <= SEGMENT_MAX else text[:SEGMENT_MAX] + "…"


def explain(schema: Schema, msg: object, errors: list[ValidationError], checks: Mapping[str, Callable[[str, str],
            object]], fast: Exception) -> BadRequest:
    """The error to reply with; ``fast`` (fastjsonschema's) only when jsonschema found none."""
    if not errors:
        path = [p for p in getattr(fast, "path", [])[1:] if p]  # ["data", "config", "temperature"]
        rule = getattr(fast, "rule", None) or "schema"
        return BadRequest(f"{field_name(path)}: does not satisfy {rule}", details={"field": field_name(path)})
    first = min(errors, key=lambda e: _order(schema, msg, e))
    return _describe(schema, msg, first, checks)


def _order(schema: Schema, msg: object, error: ValidationError) -> list[int]:
    """Where zod meets this error: the position of each key along the path in its object's schema."""
    key: list[int] = []
    node: Any = schema
    value: Any = msg
    for seg in error.absolute_path:
        node = _pick_branch(node, value)
        if isinstance(seg, int):
            key.append(seg)
            node = node.get("items", {})
            value = value[seg] if isinstance(value, list | tuple) and seg < len(value) else None
            continue
        props = list(node.get("properties", {}))
        key.append(props.index(seg) if seg in props else len(props))
        node = node.get("properties", {}).get(seg) or node.get("additionalProperties") or {}
        value = value.get(seg) if isinstance(value, dict) else None
    if error.validator == "required":
        node = _pick_branch(node, value)
        props = list(node.get("properties", {}))
        missing = _missing(error)
        key.append(props.index(missing) if missing in props else len(props))
    return key


def _pick_branch(node: Any, value: Any) -> Any:
    branches = node.get("oneOf") or node.get("anyOf") if isinstance(node, dict) else None
    if not branches:
        return node if isinstance(node, dict) else {}
    tag = _discriminator(branches)
    if tag is not None and isinstance(value, dict):
        for branch in branches:
            if branch["properties"][tag]["const"] == value.get(tag):
                return branch
    return branches[0]


def _discriminator(branches: Sequence[Schema]) -> str | None:
    """The key every branch pins with a ``const`` (a zod discriminated union), if any."""
    first = branches[0].get("properties", {})
    for key, sub in first.items():
        if "const" in sub and all("const" in b.get("properties", {}).get(key, {}) for b in branches):
            return str(key)
    return None


def _missing(error: ValidationError) -> str:
    instance = error.instance if isinstance(error.instance, dict) else {}
    required: list[str] = _rule(error)
    return next((k for k in required if k not in instance), required[0])


def _rule(error: ValidationError) -> Any:
    """The keyword's value in the schema (typed ``Any | Unset`` by the stubs; always set on a yielded error)."""
    return error.validator_value


def _describe(schema: Schema, msg: object, error: ValidationError,
              checks: Mapping[str, Callable[[str, str], object]]) -> BadRequest:
    path = list(error.absolute_path)
    kind, rule = str(error.validator), _rule(error)
    instance: Any = error.instance
    if list(error.schema_path)[-2:-1] == ["propertyNames"]:  # about a key: zod names it in the path
        return _bad([*path, instance], "is not a valid key here")
    if kind in ("oneOf", "anyOf"):
        return _describe_union(schema, msg, error, checks)
    if kind == "required":
        path.append(_missing(error))
        return _bad(path, "is required")
    if kind == "format" and rule in checks and isinstance(instance, str):
        try:
            checks[rule](instance, field_name(path))
        except BadRequest as err:
            return err
        return _bad(path, f"is not a valid {rule}")
    return _bad(path, _expected(kind, rule, instance, error))


def _describe_union(schema: Schema, msg: object, error: ValidationError,
                    checks: Mapping[str, Callable[[str, str], object]]) -> BadRequest:
    path, branches, instance = list(error.absolute_path), _rule(error), error.instance
    tag = _discriminator(branches)
    if tag is not None and isinstance(instance, dict):
        tags = [b["properties"][tag]["const"] for b in branches]
        if instance.get(tag) not in tags:
            got = "is required" if tag not in instance else f"got {quote(instance.get(tag))}"
            return _bad([*path, tag], f"expected one of {', '.join(map(str, tags))}; {got}")
        index = tags.index(instance[tag])
        inside = [e for e in error.context or () if e.relative_schema_path[0] == index]
        if inside:
            first = min(inside, key=lambda e: _order(schema, msg, e))
            return _describe(schema, msg, first, checks)
    if len(error.context or ()) == 0 and error.validator == "oneOf":
        return _bad(path, "matches more than one of the allowed shapes")
    shapes = ", ".join("{" + ", ".join(b.get("required", [])) + "}" for b in branches)
    return _bad(path, f"expected one of the shapes {shapes}")


def _expected(kind: str, rule: Any, instance: Any, error: ValidationError) -> str:
    match kind:
        case "type":
            names = [rule] if isinstance(rule, str) else list(rule)
            return f"expected {' or '.join(_WIRE_TYPES.get(n, n) for n in names)}, got {type_name(instance)}"
        case "minLength":
            return f"expected at least {rule} characters"
        case "maxLength":
            return f"expected at most {rule} characters"
        case "minItems":
            return f"expected at least {rule} item{'s' if rule != 1 else ''}"
        case "maxItems":
            return f"expected at most {rule} item{'s' if rule != 1 else ''}"
        case "minimum":
            return f"expected >= {rule}"
        case "maximum":
            return f"expected <= {rule}"
        case "exclusiveMinimum":
            return f"expected > {rule}"
        case "exclusiveMaximum":
            return f"expected < {rule}"
        case "enum":
            return f"expected one of {', '.join(map(str, rule))}, got {quote(instance)}"
        case "const":
            return f"expected {json.dumps(rule)}, got {quote(instance)}"
        case "pattern":
            return _PATTERNS.get(rule, "does not match the expected pattern")
        case "additionalProperties":
            schema: Any = error.schema
            extra = [k for k in instance if k not in schema.get("properties", {})]
            return f"unknown key {quote(extra[0] if extra else '?')}"
    return f"is invalid ({kind})"


def _bad(path: Path, message: str) -> BadRequest:
    field = field_name(path)
    return BadRequest(f"{field}: {message}", details={"field": field})
