"""Program state from the wire: DSPy's JSON form (``module.dump_state()`` / ``save("x.json")``).

A request's ``state`` is checked per predictor and applied with DSPy's own ``load_state`` to a freshly
built module, which is then cached under the state's hash. Only the JSON keys DSPy's predictors save
are kept (``traces``, ``train``, ``demos``, ``signature``, ``fields``); ``lm`` is ignored (the worker
picks the LM: its default or the call's ``config.lm``), as is ``metadata``. Never pickle.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import dspy

from .errors import BadRequest, field_error, type_name
from .values import check_demos

_KEPT = ("traces", "train", "demos", "signature", "fields")
MAX_DEMOS = 1000


def state_digest(state: Mapping[str, Any] | None) -> tuple[str | None, int]:
    """The state's hash (part of the module cache key) and its size in bytes as canonical JSON."""
    if state is None:
        return None, 0
    text = json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_kind)
    data = text.encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest(), len(data)


def _kind(value: object) -> str:
    # Values JSON cannot hold (msgpack binary, ext types) hash by kind, never by their repr.
    return f"<{type(value).__name__}>"


def _check_predictor(entry: object, path: str) -> dict[str, Any]:
    if not isinstance(entry, Mapping):
        raise field_error(BadRequest, path, f"must be a map (a predictor's state), got {type_name(entry)}")
    sig = entry.get("signature")
    if not isinstance(sig, Mapping):
        raise field_error(BadRequest, f"{path}.signature", f"is required (a map), got {type_name(sig)}")
    if not isinstance(sig.get("instructions"), str):
        raise field_error(BadRequest, f"{path}.signature.instructions", "is required (a string)")
    fields = sig.get("fields", [])
    if not isinstance(fields, list) or not all(
        isinstance(f, Mapping) and isinstance(f.get("prefix"), str) and isinstance(f.get("description"), str)
        for f in fields
    ):
        raise field_error(BadRequest, f"{path}.signature.fields", "must be a list of {prefix, description} strings")
    demos = entry.get("demos", [])
    if not isinstance(demos, list) or not all(isinstance(d, Mapping) for d in demos):
        raise field_error(BadRequest, f"{path}.demos", "must be a list of maps")
    if len(demos) > MAX_DEMOS:
        raise field_error(BadRequest, f"{path}.demos", f"has {len(demos)} demos, over the limit of {MAX_DEMOS}")
    for key in ("traces", "train"):
        if key in entry and not isinstance(entry[key], list):
            raise field_error(BadRequest, f"{path}.{key}", "must be a list")
    kept: dict[str, Any] = {k: entry[k] for k in _KEPT if k in entry}
    kept.setdefault("traces", [])
    kept.setdefault("train", [])
    kept.setdefault("demos", [])
    kept["lm"] = None
    return kept


def apply_state(module: dspy.Module, state: Mapping[str, Any]) -> None:
    """Load ``state`` into ``module`` in place; 400 naming ``state.<predictor>`` when it does not fit."""
    names = [name for name, _ in module.named_predictors()]
    if names == ["self"]:  # a bare Predict: its state is the predictor's own map
        clean: dict[str, Any] = _check_predictor(state, "state")
    else:
        clean = {}
        for name in names:
            if name not in state:
                raise field_error(BadRequest, f"state.{name}",
                                  f"is required (this module's predictors: {', '.join(names)})")
            clean[name] = _check_predictor(state[name], f"state.{name}")
    for name, predictor in module.named_predictors():
        entry = clean if name == "self" else clean[name]
        check_demos(predictor.signature, entry["demos"], "state.demos" if name == "self" else f"state.{name}.demos")
    try:
        module.load_state(clean)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # DSPy's message may quote the state; the caller gets a stable one and the exception's class.
        raise BadRequest("state: DSPy could not load it into this module's predictors",
                         details={"field": "state", "cause": type(exc).__name__}) from None
