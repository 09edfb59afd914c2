"""The wire contract on the Python side: the JSON Schemas in ``schemas/``, generated from the zod schemas
in ``src/protocol/`` (``npm run schemas``; never edited by hand), validate messages by type name.

A :class:`Contract` compiles one validator per schema on first use and keeps it. Accepting is the hot
path (every call a worker serves): it runs a ``fastjsonschema`` validator, compiled to plain Python.
A rejection is explained by ``jsonschema`` over the same schema (built on the first rejection), which
finds every error; :mod:`contract_errors` picks the one the node's zod would report first and turns
it into a :class:`~dspex_worker.errors.BadRequest` naming the field (``details.field``).

What JSON Schema cannot say travels as a ``format`` name (``dspex-signature``, ``dspex-type``); the
caller registers a hand-written check for each (``HAND_CHECKS`` in :mod:`protocol`), and a contract
refuses to start when a schema names a format nobody registered.

Both validators share one reading of the schemas, which differs from zod's in three ways (listed in
docs/protocol.md): ``$`` in a pattern ends the string (ECMAScript; Python's ``re`` would also match
before a final newline), string lengths count code points (zod counts UTF-16 units, so a string of
astral characters passes here up to twice as long), and ``number`` admits NaN and infinities.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema
import jsonschema
from jsonschema import Draft7Validator, FormatChecker, ValidationError

from .contract_errors import explain
from .errors import BadRequest

HandCheck = Callable[[str, str], object]
"""``check(text, field)``: returns when ``text`` is fine, raises BadRequest naming ``field`` otherwise."""

Schema = dict[str, Any]

_DOLLAR = re.compile(r"(?<!\\)\$")  # an unescaped `$`: end of string in ECMAScript, as fastjsonschema reads it


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(_DOLLAR.sub(r"\\Z", pattern))


def _pattern(validator: Any, pattern: str, instance: Any, schema: Schema) -> Iterator[ValidationError]:
    if isinstance(instance, str) and not _regex(pattern).search(instance):
        yield ValidationError(f"does not match {pattern!r}")


# The types as the generated fastjsonschema code reads them, so that both validators agree.
_TYPES = Draft7Validator.TYPE_CHECKER.redefine_many({
    "integer": lambda _, v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda _, v: isinstance(v, int | float | Decimal) and not isinstance(v, bool),
    "array": lambda _, v: isinstance(v, list | tuple),
    "object": lambda _, v: isinstance(v, dict),
})
_Explainer = jsonschema.validators.extend(  # type: ignore[no-untyped-call]  # untyped in the stubs
    Draft7Validator, {"pattern": _pattern}, type_checker=_TYPES)


def _passes(check: HandCheck) -> Callable[[str], bool]:
    def passes(text: object) -> bool:
        if not isinstance(text, str):
            return True  # jsonschema asks about every type; `type` reports a non-string
        try:
            check(text, "value")
        except BadRequest:
            return False
        return True

    return passes


class Validator:
    """One compiled schema: call it with a decoded message; BadRequest naming the field when it is bad."""

    def __init__(self, schema: Schema, checks: Mapping[str, HandCheck]) -> None:
        self.schema = schema
        self._checks = checks
        formats = {name: _passes(check) for name, check in checks.items()}
        # use_default=False: `default` in the schemas is an annotation; the message is never rewritten.
        self._fast = fastjsonschema.compile(schema, formats=formats, use_default=False)
        self._formats = formats
        self._slow: Any = None

    def __call__(self, msg: object) -> None:
        try:
            self._fast(msg)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise self._explain(msg, exc) from None

    def _explain(self, msg: object, exc: fastjsonschema.JsonSchemaValueException) -> BadRequest:
        if self._slow is None:
            checker = FormatChecker(formats=())
            for name, passes in self._formats.items():
                checker.checks(name)(passes)  # type: ignore[type-var]  # takes any instance, says so
            self._slow = _Explainer(self.schema, format_checker=checker)
        return explain(self.schema, msg, list(self._slow.iter_errors(msg)), self._checks, exc)


class Contract:
    """Every message schema of ``schemas/`` by type name, validated with the given hand checks."""

    def __init__(self, checks: Mapping[str, HandCheck], schemas: Mapping[str, Schema] | None = None) -> None:
        self._schemas = dict(schemas) if schemas is not None else load_schemas()
        self._checks = dict(checks)
        self._validators: dict[tuple[str, str | None], Validator] = {}
        missing = sorted(formats_used(self._schemas) - self._checks.keys())
        if missing:
            raise RuntimeError(f"schemas name formats without a hand check: {', '.join(missing)}")

    @property
    def types(self) -> list[str]:
        return sorted(self._schemas)

    def schema(self, message_type: str) -> Schema:
        try:
            return self._schemas[message_type]
        except KeyError:
            raise ValueError(f"unknown message type {message_type!r}") from None

    def validator(self, message_type: str, branch: str | None = None) -> Validator:
        """The validator of a message type, or of one branch of a union discriminated by ``op``."""
        key = (message_type, branch)
        found = self._validators.get(key)
        if found is None:
            schema = self.schema(message_type)
            if branch is not None:
                schema = {"$schema": schema["$schema"], **_branch(schema, "op", branch)}
            found = self._validators[key] = Validator(schema, self._checks)
        return found

    def validate(self, message_type: str, msg: object) -> None:
        self.validator(message_type)(msg)


def _branch(schema: Schema, key: str, value: str) -> Schema:
    for branch in schema.get("oneOf", ()):
        if branch.get("properties", {}).get(key, {}).get("const") == value:
            return dict(branch)
    raise ValueError(f"{schema.get('title')}: no branch with {key} = {value!r}")


def load_schemas() -> dict[str, Schema]:
    """The generated schemas shipped in the package, by message type."""
    folder = resources.files(__package__) / "schemas"
    out: dict[str, Schema] = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            out[entry.name.removesuffix(".json")] = json.loads(entry.read_text(encoding="utf-8"))
    if not out:
        raise RuntimeError(f"no schemas in {folder}: run `npm run schemas`")
    return out


def formats_used(schemas: Mapping[str, Any]) -> set[str]:
    """Every ``format`` named anywhere in ``schemas``."""
    found: set[str] = set()
    stack: list[Any] = [schemas]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("format"), str):
                found.add(node["format"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found
