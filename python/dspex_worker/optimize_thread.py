"""Inside the optimizer thread: run one DSPy optimizer over a :class:`CompileCall` and score the result.

DSPy optimizers are blocking, so :func:`run_compile` runs in a thread (see :mod:`optimize` for the
event-loop side). A :class:`Control` shared with the event loop carries the cancel flag, checked
before every LM call and every metric call, and the counters progress events report.

With the ``dummy`` LM every predictor call, the optimizers' own proposers included, is answered by a
DummyLM built for that call from its signature and inputs (the same derivation the serving path uses),
so bootstrapping is deterministic: an example passes the metric when its label is found in the answer
derived from its inputs.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import dspy
from dspy.adapters.chat_adapter import ChatAdapter
from dspy.utils import DummyLM
from dspy.utils.callback import BaseCallback

from .codec import to_plain
from .errors import BadRequest, field_error, quote
from .lm import LmChooser, dummy_value
from .metrics import Metric, resolve_metric
from .modules import parse_signature
from .optimize_request import SETTINGS, CompileCall
from .state import apply_state

log = logging.getLogger(__name__)

MIPRO_MINIBATCH = 35  # DSPy's default minibatch_size


class Cancelled(BaseException):  # not Exception: DSPy's `except Exception` must not swallow it
    """Raised inside the optimizer thread once a cancel request arrived."""



class Control:
    """Shared between the event loop and the optimizer thread: the cancel flag and the counters."""

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.deadline: float | None = None
        self.done = 0
        self.best_score: float | None = None
        self.last_score: float | None = None

    def check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()
        if self.deadline is not None and time.time() > self.deadline:
            raise Cancelled()


def _seed(inputs: Mapping[str, Any]) -> str:
    # Mirrors the serving path's dummy (lm.py): the first non-empty input, whitespace collapsed.
    for value in inputs.values():
        if value is None:
            continue
        text = value if isinstance(value, str) else repr(value)
        return " ".join(text.split())[:60].strip() or "nothing"
    return "nothing"


class ControlledAdapter(ChatAdapter):  # type: ignore[misc]  # dspy is untyped
    """ChatAdapter that checks the cancel flag before each LM call; with the dummy LM it answers each
    call from that call's own signature and inputs."""

    def __init__(self, control: Control, dummy: bool, delay_s: float = 0.0) -> None:
        super().__init__()
        self.control = control
        self.dummy = dummy
        self.delay_s = delay_s  # DSPEX_DUMMY_DELAY_MS: makes a dummy run last (tests of progress, cancel)

    def _lm(self, lm: Any, signature: type[dspy.Signature], inputs: dict[str, Any]) -> Any:
        self.control.check()
        if not self.dummy:
            return lm
        if self.delay_s:
            time.sleep(self.delay_s)
            self.control.check()
        seed = _seed({k: v for k, v in inputs.items() if k in signature.input_fields})
        answer = {name: dummy_value(name, info.annotation, seed) for name, info in signature.output_fields.items()}
        dummy = DummyLM([])
        dummy.answers = itertools.repeat(answer)  # every request of this call (n > 1 too) gets it
        return dummy

    def __call__(self, lm: Any, lm_kwargs: dict[str, Any], signature: type[dspy.Signature],
                 demos: list[dict[str, Any]], inputs: dict[str, Any]) -> Any:
        return super().__call__(self._lm(lm, signature, inputs), lm_kwargs, signature, demos, inputs)

    async def acall(self, lm: Any, lm_kwargs: dict[str, Any], signature: type[dspy.Signature],
                    demos: list[dict[str, Any]], inputs: dict[str, Any]) -> Any:
        return await super().acall(self._lm(lm, signature, inputs), lm_kwargs, signature, demos, inputs)


class ScoreCallback(BaseCallback):  # type: ignore[misc]  # dspy is untyped
    """Keeps the best program score DSPy's ``Evaluate`` reports (percent → 0..1)."""

    def __init__(self, control: Control) -> None:
        self.control = control

    def on_evaluate_end(self, call_id: str, outputs: Any | None, exception: Exception | None = None) -> None:
        score = getattr(outputs, "score", outputs)
        if isinstance(score, int | float) and not isinstance(score, bool):
            value = float(score) / 100.0
            self.control.last_score = value
            if self.control.best_score is None or value > self.control.best_score:
                self.control.best_score = value


def counted(metric: Metric, control: Control) -> Metric:
    """The request's metric, counting calls and honouring cancellation between evaluations."""

    def wrapped(example: Any, pred: Any, trace: Any = None, *rest: Any) -> float | bool:
        control.check()
        result = metric(example, pred, trace)
        control.done += 1
        return result

    return wrapped


def _build(call: CompileCall) -> tuple[dspy.Module, type[dspy.Signature]]:
    sig = parse_signature(call.signature, call.instructions)
    program: dspy.Module = dspy.ChainOfThought(sig) if call.module == "ChainOfThought" else dspy.Predict(sig)
    if call.state is not None:
        apply_state(program, call.state)
    return program, sig


def _to_examples(rows: list[dict[str, Any]], sig: type[dspy.Signature], name: str) -> list[dspy.Example]:
    keys = list(sig.input_fields)
    for i, row in enumerate(rows):
        missing = [k for k in keys if k not in row]
        if missing:
            raise field_error(BadRequest, f"{name}.{i}", f"lacks input(s) {', '.join(missing)}")
    return [dspy.Example(**row).with_inputs(*keys) for row in rows]


def _optimizer(call: CompileCall, metric: Metric) -> tuple[Any, dict[str, Any]]:
    init = {k: v for k, v in call.settings.items() if SETTINGS[call.optimizer][k][2] == "init"}
    extra = {k: v for k, v in call.settings.items() if SETTINGS[call.optimizer][k][2] == "compile"}
    tp = dspy.teleprompt
    match call.optimizer:
        case "BootstrapFewShot":
            return tp.BootstrapFewShot(metric=metric, **init), {}
        case "BootstrapFewShotWithRandomSearch":
            return tp.BootstrapFewShotWithRandomSearch(metric=metric, num_threads=1, **init), {
                "valset": None}
        case "COPRO":
            return tp.COPRO(metric=metric, **init), {"eval_kwargs": {"num_threads": 1, "display_progress": False}}
        case "MIPROv2":
            if "auto" not in init:
                init["auto"] = None
                init.setdefault("num_candidates", 2)
                extra.setdefault("num_trials", 2)
            if extra.get("minibatch", True):
                # DSPy's default (35) is refused when the valset is smaller.
                extra.setdefault("minibatch_size", min(MIPRO_MINIBATCH, len(call.valset or call.trainset)))
            return tp.MIPROv2(metric=metric, num_threads=1, verbose=False, **init), {
                **extra, "valset": None}
    raise BadRequest(f"unknown optimizer {quote(call.optimizer)}", details={"field": "optimizer"})


def run_compile(call: CompileCall, control: Control, chooser: LmChooser, delay_s: float = 0.0) -> dict[str, Any]:
    """Blocking: compile, score the result on the valset, return ``{state, score}``."""
    program, sig = _build(call)
    metric = counted(resolve_metric(call.metric, list(sig.output_fields)), control)
    trainset = _to_examples(call.trainset, sig, "trainset")
    valset = _to_examples(call.valset, sig, "valset") if call.valset is not None else trainset
    adapter = ControlledAdapter(control, chooser.is_dummy, delay_s)
    # Optimizers read settings.lm (and BootstrapFewShot copies it); with the dummy the adapter answers.
    lm = DummyLM([]) if chooser.is_dummy else chooser.default
    with dspy.context(lm=lm, adapter=adapter, callbacks=[ScoreCallback(control)]):
        try:
            optimizer, compile_kwargs = _optimizer(call, metric)
            if "valset" in compile_kwargs:
                compile_kwargs["valset"] = valset
            compiled = optimizer.compile(program, trainset=trainset, **compile_kwargs)
        except ValueError as exc:
            # DSPy's optimizers check their arguments with ValueError; the text stays in the log.
            log.info("%s refused run %s: %s", call.optimizer, call.run_id, exc)
            raise BadRequest(f"settings: DSPy's {call.optimizer} refused this run's settings or examples",
                             details={"field": "settings", "cause": "ValueError"}) from None
        scores = []
        for example in valset:
            control.check()
            pred = compiled(**example.inputs())
            scores.append(float(metric(example, pred)))
    score = sum(scores) / len(scores) if scores else 0.0
    control.last_score = score
    if control.best_score is None or score > control.best_score:
        control.best_score = score
    state = to_plain(compiled.dump_state())
    assert isinstance(state, dict)
    return {"state": state, "score": score}

