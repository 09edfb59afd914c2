"""Which language model a call runs on: a real ``dspy.LM`` or the deterministic dummy.

``DSPEX_LM=dummy`` (the default) answers every call with a fresh ``DummyLM`` whose single answer is
derived from the signature's output types and the inputs, so real DSPy (module, adapter formatting and
parsing) runs and the same inputs give the same outputs in every worker. A call may instead script the
dummy's answers with ``config.dummy_script`` (a list of answer maps, used in order); real LMs ignore it.
"""

from __future__ import annotations

import itertools
import logging
import os
import types
import typing
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import dspy
from dspy.utils import DummyLM

from . import dspy_values

log = logging.getLogger(__name__)

DUMMY = "dummy"


def resolve_name(cli_value: str | None) -> str:
    """``--lm`` wins over ``DSPEX_LM``; unset means the dummy LM."""
    return cli_value or os.environ.get("DSPEX_LM") or DUMMY


def build_lm(name: str) -> dspy.LM:
    """A real LM reached through litellm; the key falls back to the provider's own variable."""
    kwargs: dict[str, Any] = {}
    if base := os.environ.get("DSPEX_LM_API_BASE"):
        kwargs["api_base"] = base
    if key := os.environ.get("DSPEX_LM_API_KEY"):
        kwargs["api_key"] = key
    return dspy.LM(name, **kwargs)


# --- the dummy LM -------------------------------------------------------------------------------

_NONE = type(None)


# What the dummy answers for DSPy's own types: the forms DSPy's adapters parse from an LM's answer.
_DUMMY_DSPY: dict[str, Any] = {
    "Image": {"url": "https://example.com/dummy.png"},
    "Audio": "data:audio/wav;base64,AAAA",
    "File": {"file_id": "file-dummy", "filename": "dummy.txt"},
    "History": {"messages": []},
    "ToolCalls": {"tool_calls": []},
}


_NO_BRACKETS = str.maketrans("", "", "[]{}")


def dummy_value(name: str, ann: Any, seed: str) -> Any:
    """A deterministic value of the annotated type."""
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    dspy_name = dspy_values.name_of(ann)
    if dspy_name is not None:
        # Code and Reasoning are text; DSPy would read a JSON-looking seed ("[1]") as a list.
        return _DUMMY_DSPY.get(dspy_name, f"{name} for {seed}".translate(_NO_BRACKETS))
    if origin is tuple and args and args[-1] is not Ellipsis:
        return [dummy_value(name, a, seed) for a in args]
    if ann is bool:
        return True
    if ann is int:
        return 42
    if ann is float:
        return 0.5
    if ann in (dict,) or origin is dict:
        return {}
    if ann in (list, tuple, set):
        return [f"{name} for {seed}"]
    if origin in (list, set, tuple):
        return [dummy_value(name, args[0] if args else str, seed)]
    if origin is typing.Literal:
        # DSPy's text adapters strip an answer, so a blank or padded string option cannot come back.
        return next((a for a in args if not isinstance(a, str) or (a and a.strip() == a)), args[0])
    if origin in (typing.Union, types.UnionType):
        real = [a for a in args if a is not _NONE]
        return dummy_value(name, real[0], seed) if real else None
    return f"{name} for {seed}"


def _seed(inputs: Mapping[str, Any]) -> str:
    for value in inputs.values():
        if value is None:
            continue
        text = value if isinstance(value, str) else repr(value)
        return " ".join(text.split())[:60].strip() or "nothing"
    return "nothing"


def _extra_signatures(module: dspy.Module) -> list[type[dspy.Signature]]:
    """Signatures a module calls without holding a predictor for them (Refine's feedback step)."""
    if isinstance(module, dspy.Refine):
        from dspy.predict.refine import OfferFeedback

        return [OfferFeedback]
    return []


def dummy_answer(module: dspy.Module, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Every output field of every predictor in ``module`` (``reasoning`` too for ChainOfThought).

    ReAct's ``next_tool_name`` is ``finish``: an unscripted dummy agent ends at once instead of calling
    a tool with made-up arguments (script the calls with ``config.dummy_script`` to exercise tools).
    """
    seed = _seed(inputs)
    answer: dict[str, Any] = {}
    signatures = [p.signature for p in module.predictors()] + _extra_signatures(module)
    for sig in signatures:
        for name, info in sig.output_fields.items():
            if name == "next_tool_name" and isinstance(module, dspy.ReAct):
                answer.setdefault(name, "finish")
            answer.setdefault(name, dummy_value(name, info.annotation, seed))
    return answer


def dummy_lm(module: dspy.Module, inputs: Mapping[str, Any],
             script: list[dict[str, Any]] | None = None) -> DummyLM:
    """A fresh DummyLM for one call.

    With ``script`` (the call's ``config.dummy_script``) its answers are used in order, one per LM
    request, as DSPy's DummyLM list mode does. Without, every LM request of the call gets the same
    derived answer, so modules that call the LM several times (ReAct, BestOfN, …) work too.
    """
    if script is not None:
        return DummyLM([dict(a) for a in script])
    lm = DummyLM([])
    lm.answers = itertools.repeat(dummy_answer(module, inputs))
    return lm


class LmChooser:
    """Picks the LM for one call: the dummy, the configured default, or a per-call ``config.lm``."""

    def __init__(self, name: str, max_extra: int = 8) -> None:
        self.name = name
        self.is_dummy = name == DUMMY
        self.default: dspy.LM | None = None if self.is_dummy else build_lm(name)
        self._extra: OrderedDict[str, dspy.LM] = OrderedDict()
        self._max_extra = max_extra

    def for_call(self, module: dspy.Module, inputs: Mapping[str, Any], lm_name: str | None,
                 script: list[dict[str, Any]] | None = None) -> Any:
        if self.is_dummy:
            # A dummy worker is a test worker: a per-call model name is ignored, never dialled.
            return dummy_lm(module, inputs, script)
        if not lm_name or lm_name == self.name:
            return self.default
        lm = self._extra.get(lm_name)
        if lm is None:
            lm = build_lm(lm_name)
            self._extra[lm_name] = lm
            if len(self._extra) > self._max_extra:
                self._extra.popitem(last=False)
        else:
            self._extra.move_to_end(lm_name)
        return lm
