"""Metrics an optimization may name: built-ins on one output field, and Python metrics registered here.

A request names a metric, it never carries code: ``{"name": "contains", "field": "answer"}``. The
built-ins compare the prediction's ``field`` with the example's ``field`` after normalising both
(case, surrounding and repeated whitespace; F1 also drops punctuation):

- ``exact_match``: 1.0 when equal, else 0.0;
- ``contains``: 1.0 when the prediction contains the expected value, else 0.0;
- ``f1``: token-level F1 between the two.

Other metrics are Python functions ``metric(example, prediction, trace=None) -> float | bool``
registered by name with :func:`register_metric`, in this module or in a module listed in
``DSPEX_METRIC_MODULES`` (comma-separated import paths, imported once by the worker, from its own
environment — never from the wire).
"""

from __future__ import annotations

import importlib
import os
import re
import string
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from .errors import BadRequest, NotFound, quote

Metric = Callable[..., float | bool]
"""``metric(example, prediction, trace=None) -> float | bool`` as DSPy optimizers call it."""

_REGISTRY: dict[str, Metric] = {}
BUILTINS = ("exact_match", "contains", "f1")
_loaded_modules = False


def register_metric(name: str) -> Callable[[Metric], Metric]:
    """Decorator: make ``fn`` available to optimizations as ``{"name": name}``."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name) or name in BUILTINS:
        raise ValueError(f"metric name {name!r}: expected 1-64 letters, digits, '_' or '-', not a built-in")

    def add(fn: Metric) -> Metric:
        _REGISTRY[name] = fn
        return fn

    return add


def registered() -> list[str]:
    """Names of every metric a request may use."""
    _load_configured_modules()
    return [*BUILTINS, *sorted(_REGISTRY)]


def _load_configured_modules() -> None:
    global _loaded_modules
    if _loaded_modules:
        return
    _loaded_modules = True
    for path in filter(None, (p.strip() for p in os.environ.get("DSPEX_METRIC_MODULES", "").split(","))):
        importlib.import_module(path)


# --- normalisation and the built-ins ------------------------------------------------------------------

_PUNCT = str.maketrans("", "", string.punctuation)


def normalize(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    return " ".join(text.casefold().split())


def tokens(value: Any) -> list[str]:
    return normalize(value).translate(_PUNCT).split()


def exact_match(expected: Any, predicted: Any) -> float:
    return 1.0 if normalize(expected) == normalize(predicted) else 0.0


def contains(expected: Any, predicted: Any) -> float:
    want = normalize(expected)
    return 1.0 if want and want in normalize(predicted) else 0.0


def f1(expected: Any, predicted: Any) -> float:
    want, got = tokens(expected), tokens(predicted)
    if not want or not got:
        return 1.0 if want == got else 0.0
    common = sum((Counter(want) & Counter(got)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(got), common / len(want)
    return 2 * precision * recall / (precision + recall)


_COMPARE: dict[str, Callable[[Any, Any], float]] = {"exact_match": exact_match, "contains": contains, "f1": f1}


def _value(obj: Any, field: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(field)
    return getattr(obj, field, None)


def resolve_metric(spec: Mapping[str, Any], output_fields: list[str]) -> Metric:
    """The metric a request names; 400 for a bad field, 404 for an unknown name."""
    name = spec["name"]
    if name in _COMPARE:
        field = spec.get("field")
        if field is None:
            if len(output_fields) != 1:
                raise BadRequest(f"metric.field: required for {name} when the signature has several outputs "
                                 f"({', '.join(output_fields)})", details={"field": "metric.field"})
            field = output_fields[0]
        if field not in output_fields:
            raise BadRequest(f"metric.field: {quote(field)} is not an output of the signature "
                             f"({', '.join(output_fields)})", details={"field": "metric.field"})
        compare = _COMPARE[name]

        def builtin(example: Any, pred: Any, trace: Any = None) -> float:
            expected = _value(example, field)
            return 0.0 if expected is None else compare(expected, _value(pred, field))

        return builtin
    _load_configured_modules()
    fn = _REGISTRY.get(name)
    if fn is None:
        raise NotFound(f"metric {quote(name)} is not registered (known: {', '.join(registered())})",
                       details={"field": "metric.name"})
    return fn


@register_metric("nonempty_answer")
def nonempty_answer(example: Any, pred: Any, trace: Any = None) -> float:
    """An example of a registered metric: 1.0 when the prediction's ``answer`` is not blank."""
    return 1.0 if normalize(_value(pred, "answer") or "") else 0.0
