"""A tool's JSON schema from the wire, reduced to what the model needs to see.

DSPy shows a tool's ``parameters.properties`` to the model and validates the model's arguments with
``jsonschema`` before the call, on the worker's event loop. A schema from the wire could carry a
regular expression that backtracks for minutes (``pattern``), references (``$ref``) or arbitrarily deep
nesting. So only an allow-list of descriptive and structural keywords is kept, values of the expected
kinds only, nested at most ``MAX_DEPTH`` deep; everything else is dropped. Dropping is safe: the node
that serves the tool validates the arguments against the tool's own (zod) schema when it is called.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 8
JSON_TYPES = ("string", "number", "integer", "boolean", "object", "array", "null")
_TEXT = ("title", "description")
_NUMBERS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
_COUNTS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties")
_SCALAR = (str, int, float, bool, type(None))


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and v == v and abs(v) != float("inf")


def clean_schema(schema: object, depth: int = 0) -> dict[str, Any]:
    """The allow-listed part of one JSON schema node (``{}``, accepting anything, when nothing is left)."""
    if not isinstance(schema, Mapping) or depth >= MAX_DEPTH:
        return {}
    out: dict[str, Any] = {}
    kind = schema.get("type")
    if isinstance(kind, str) and kind in JSON_TYPES:
        out["type"] = kind
    elif isinstance(kind, list) and kind and all(isinstance(k, str) and k in JSON_TYPES for k in kind):
        out["type"] = list(dict.fromkeys(kind))
    for key in _TEXT:
        if isinstance(schema.get(key), str):
            out[key] = schema[key][:1000]
    for key in _NUMBERS:
        if _number(schema.get(key)):
            out[key] = schema[key]
    for key in _COUNTS:
        value = schema.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            out[key] = value
    enum = schema.get("enum")
    if isinstance(enum, list) and all(isinstance(v, _SCALAR) for v in enum):
        out["enum"] = enum[:256]
    if "const" in schema and isinstance(schema["const"], _SCALAR):
        out["const"] = schema["const"]
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        out["properties"] = {str(k): clean_schema(v, depth + 1) for k, v in list(properties.items())[:256]}
    required = schema.get("required")
    if isinstance(required, list) and all(isinstance(r, str) for r in required):
        out["required"] = required[:256]
    items = schema.get("items")
    if isinstance(items, Mapping):
        out["items"] = clean_schema(items, depth + 1)
    extra = schema.get("additionalProperties")
    if isinstance(extra, bool):
        out["additionalProperties"] = extra
    elif isinstance(extra, Mapping):
        out["additionalProperties"] = clean_schema(extra, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            out[key] = [clean_schema(o, depth + 1) for o in options[:16]]
    return out


def clean_parameters(parameters: object) -> dict[str, Any]:
    """A tool's ``parameters`` (an ``object`` schema) with only allow-listed keywords left."""
    return clean_schema(parameters)
