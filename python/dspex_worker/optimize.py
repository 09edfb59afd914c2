"""The ``compile`` op: run a DSPy optimizer on this worker and reply with the compiled program's state.

``{op: "compile", run_id, optimizer, module, signature, instructions?, state?, trainset, valset?,
metric, settings?}``. The optimizer runs synchronously in a thread (DSPy optimizers are blocking);
the event loop keeps serving. While it runs the worker

- publishes progress on ``<prefix>.events.optimize.<run_id>`` (msgpack ``{run_id, worker, optimizer,
  status, done, total, best_score, last_score, at}``, at most every 250 ms, and a last one at the end);
- answers cancel requests on ``<prefix>.optimize.cancel.<run_id>``: a flag checked before every LM
  call and every metric call, so cancellation takes effect between evaluations.

The reply is ``{run_id, optimizer, status: "completed", state, score, evaluations, worker,
latency_ms}`` (``state`` is DSPy's ``dump_state()`` JSON, ``score`` the compiled program's mean metric
on the valset) or ``{..., status: "cancelled"}`` without a state.

With the ``dummy`` LM every predictor call, the optimizers' own proposers included, is answered by a
DummyLM built for that call from its signature and inputs (the same derivation the serving path uses),
so bootstrapping is deterministic: an example passes the metric when its label is found in the answer
derived from its inputs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dspy
import msgpack
from dspy.adapters.chat_adapter import ChatAdapter
from dspy.utils import DummyLM
from dspy.utils.callback import BaseCallback

from .codec import to_plain
from .errors import BadRequest, DeadlineExceeded, field_error, from_exception, quote
from .identity import Signer
from .lm import LmChooser, dummy_value
from .metrics import Metric, resolve_metric
from .modules import parse_signature
from .signature_grammar import check_signature
from .state import apply_state

log = logging.getLogger(__name__)

MAX_EXAMPLES = 1000
PROGRESS_EVERY_S = 0.25
COMPILE_MODULES = ("Predict", "ChainOfThought")


class Cancelled(BaseException):  # not Exception: DSPy's `except Exception` must not swallow it
    """Raised inside the optimizer thread once a cancel request arrived."""


# --- the request ------------------------------------------------------------------------------------

# Settings each optimizer accepts: name → (check, what, constructor or compile keyword).
_INT = (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "an integer >= 0")
_POS = (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "an integer >= 1")
_NUM = (lambda v: isinstance(v, int | float) and not isinstance(v, bool), "a number")
_BOOL = (lambda v: isinstance(v, bool), "a boolean")
_AUTO = (lambda v: v in ("light", "medium", "heavy"), "one of light, medium, heavy")

SETTINGS: dict[str, dict[str, tuple[Callable[[Any], bool], str, str]]] = {
    "BootstrapFewShot": {
        "max_bootstrapped_demos": (*_INT, "init"), "max_labeled_demos": (*_INT, "init"),
        "max_rounds": (*_POS, "init"), "metric_threshold": (*_NUM, "init"),
    },
    "BootstrapFewShotWithRandomSearch": {
        "max_bootstrapped_demos": (*_INT, "init"), "max_labeled_demos": (*_INT, "init"),
        "max_rounds": (*_POS, "init"), "num_candidate_programs": (*_POS, "init"),
        "stop_at_score": (*_NUM, "init"), "metric_threshold": (*_NUM, "init"),
    },
    "MIPROv2": {
        "auto": (*_AUTO, "init"), "num_candidates": (*_POS, "init"),
        "max_bootstrapped_demos": (*_INT, "init"), "max_labeled_demos": (*_INT, "init"),
        "seed": (*_INT, "init"), "init_temperature": (*_NUM, "init"),
        "num_trials": (*_POS, "compile"), "minibatch": (*_BOOL, "compile"),
        "minibatch_size": (*_POS, "compile"), "minibatch_full_eval_steps": (*_POS, "compile"),
        "program_aware_proposer": (*_BOOL, "compile"), "data_aware_proposer": (*_BOOL, "compile"),
        "tip_aware_proposer": (*_BOOL, "compile"), "fewshot_aware_proposer": (*_BOOL, "compile"),
    },
    "COPRO": {"breadth": (*_POS, "init"), "depth": (*_POS, "init"), "init_temperature": (*_NUM, "init")},
}


@dataclass(frozen=True)
class CompileCall:
    """A checked ``{op: "compile", ...}`` request."""

    run_id: str
    optimizer: str
    module: str
    signature: str
    trainset: list[dict[str, Any]]
    metric: dict[str, Any]
    valset: list[dict[str, Any]] | None = None
    instructions: str | None = None
    state: dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)


def _examples(body: Mapping[str, Any], name: str, required: bool) -> list[dict[str, Any]] | None:
    value = body.get(name)
    if value is None:
        if required:
            raise field_error(BadRequest, name, "is required (a list of example maps)")
        return None
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise field_error(BadRequest, name, "must be a list of example maps")
    if not value:
        raise field_error(BadRequest, name, "must hold at least one example")
    if len(value) > MAX_EXAMPLES:
        raise field_error(BadRequest, name, f"has {len(value)} examples, over the limit of {MAX_EXAMPLES}")
    return [dict(v) for v in value]


def parse_compile(body: Mapping[str, Any]) -> CompileCall:
    """Check the shape of a compile request (signature and example keys are checked at run time)."""

    def text(name: str, required: bool, pattern: str | None = None) -> Any:
        value = body.get(name)
        if value is None:
            if required:
                raise field_error(BadRequest, name, "is required (a string)")
            return None
        if not isinstance(value, str) or not value:
            raise field_error(BadRequest, name, "must be a non-empty string")
        if pattern is not None:
            if not re.fullmatch(pattern, value):
                raise field_error(BadRequest, name, "expected 1-64 letters, digits, '_' or '-'")
        return value

    run_id = text("run_id", True, r"[A-Za-z0-9_-]{1,64}")
    signature = text("signature", True)
    check_signature(signature, "signature")
    optimizer = text("optimizer", True)
    if optimizer not in SETTINGS:
        raise field_error(BadRequest, "optimizer",
                          f"unknown optimizer {quote(optimizer)} (known: {', '.join(SETTINGS)})")
    module = text("module", False) or "Predict"
    if module not in COMPILE_MODULES:
        raise field_error(BadRequest, "module", f"compile supports {', '.join(COMPILE_MODULES)}, got {quote(module)}")
    metric = body.get("metric")
    if not isinstance(metric, Mapping):
        raise field_error(BadRequest, "metric", "is required: a map with a name ({name, field?})")
    if not isinstance(metric.get("name"), str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", metric["name"]):
        raise field_error(BadRequest, "metric.name", "is required: 1-64 letters, digits, '_' or '-'")
    if "field" in metric and not isinstance(metric["field"], str):
        raise field_error(BadRequest, "metric.field", "must be a string")
    settings = body.get("settings") or {}
    if not isinstance(settings, Mapping):
        raise field_error(BadRequest, "settings", "must be a map")
    allowed = SETTINGS[optimizer]
    for key, value in settings.items():
        if key not in allowed:
            raise field_error(BadRequest, f"settings.{key}",
                              f"is not a setting of {optimizer} (known: {', '.join(allowed)})")
        ok, what, _ = allowed[key]
        if not ok(value):
            raise field_error(BadRequest, f"settings.{key}", f"must be {what}")
    state = body.get("state")
    if state is not None and not isinstance(state, Mapping):
        raise field_error(BadRequest, "state", "must be a map (DSPy's dump_state() JSON)")
    trainset = _examples(body, "trainset", True)
    assert trainset is not None
    valset = _examples(body, "valset", False)
    _check_combination(optimizer, settings, len(valset or trainset))
    return CompileCall(
        run_id=run_id, optimizer=optimizer, module=module, signature=signature,
        trainset=trainset, valset=valset, metric=dict(metric),
        instructions=text("instructions", False), state=None if state is None else dict(state),
        settings=dict(settings),
    )


MIPRO_MINIBATCH = 35  # DSPy's default minibatch_size


def _check_combination(optimizer: str, settings: Mapping[str, Any], n_val: int) -> None:
    """Settings each valid alone that DSPy refuses together (it would raise a ValueError mid-run)."""
    if optimizer == "COPRO" and settings.get("breadth", 10) < 2:
        raise field_error(BadRequest, "settings.breadth", "must be an integer >= 2 (COPRO)")
    if optimizer == "MIPROv2":
        if "auto" in settings and ("num_candidates" in settings or "num_trials" in settings):
            raise field_error(BadRequest, "settings.auto", "cannot be combined with num_candidates or num_trials")
        if settings.get("minibatch", True) and settings.get("minibatch_size", 0) > n_val:
            raise field_error(BadRequest, "settings.minibatch_size",
                              f"must not exceed the valset's size ({n_val}) while minibatch is on")


# --- inside the optimizer thread --------------------------------------------------------------------


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


def estimated_total(call: CompileCall) -> int:
    """Metric calls the run will make, roughly (bootstraps stop early; MIPROv2 subsamples)."""
    s, n_train = call.settings, len(call.trainset)
    n_val = len(call.valset or call.trainset)
    match call.optimizer:
        case "BootstrapFewShot":
            return n_train * int(s.get("max_rounds", 1)) + n_val
        case "BootstrapFewShotWithRandomSearch":
            ncp = int(s.get("num_candidate_programs", 16))
            return (ncp + 3) * n_val + ncp * n_train + n_val
        case "COPRO":
            return int(s.get("breadth", 10)) * int(s.get("depth", 3)) * n_train + n_val
        case "MIPROv2":
            trials = int(s.get("num_trials", 10))
            batch = min(int(s.get("minibatch_size", 35)), n_val) if s.get("minibatch", True) else n_val
            return int(s.get("num_candidates", 6)) * n_train + trials * batch + 2 * n_val
    return n_train + n_val


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


# --- on the event loop ------------------------------------------------------------------------------


class Optimizations:
    """Runs compile requests for one worker: progress events, cancel subjects, the reply body."""

    def __init__(self, chooser: LmChooser, worker_id: str, prefix: str, delay_s: float = 0.0,
                 signer: Signer | None = None) -> None:
        self.chooser = chooser
        self.signer = signer  # signs cancel acknowledgements (docs/security.md)
        self.delay_s = delay_s
        self.worker_id = worker_id
        self.prefix = prefix
        self.running: dict[str, Control] = {}

    async def run(self, nc: Any, call: CompileCall, timeout_s: float | None) -> dict[str, Any]:
        if call.run_id in self.running:
            raise BadRequest(f"run_id {quote(call.run_id)} is already running on this worker",
                             details={"field": "run_id"})
        control = Control()
        control.deadline = None if timeout_s is None else time.time() + timeout_s
        self.running[call.run_id] = control
        started = time.monotonic()
        total = estimated_total(call)
        subject = f"{self.prefix}.events.optimize.{call.run_id}"

        async def emit(status: str, error: str | None = None) -> None:
            event: dict[str, Any] = {
                "run_id": call.run_id, "worker": self.worker_id, "optimizer": call.optimizer,
                "status": status, "done": control.done, "total": max(total, control.done),
                "best_score": control.best_score, "last_score": control.last_score,
                "at": int(time.time() * 1000),
            }
            if error is not None:
                event["error"] = error
            with contextlib.suppress(Exception):  # progress is best effort
                await nc.publish(subject, msgpack.packb(event))

        async def on_cancel(msg: Any) -> None:
            control.cancel.set()
            if msg.reply:
                data = msgpack.packb({"run_id": call.run_id, "worker": self.worker_id, "cancelled": True})
                headers = None if self.signer is None else self.signer.reply_headers(msg.reply, data)
                with contextlib.suppress(Exception):
                    await nc.publish(msg.reply, data, headers=headers)

        sub = await nc.subscribe(f"{self.prefix}.optimize.cancel.{call.run_id}", cb=on_cancel)
        await nc.flush()
        await emit("running")
        task = asyncio.ensure_future(asyncio.to_thread(run_compile, call, control, self.chooser, self.delay_s))
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=PROGRESS_EVERY_S)
                if not task.done():
                    await emit("running")
            try:
                result = task.result()
            except Cancelled:
                if control.cancel.is_set():
                    await emit("cancelled")
                    return self._reply(call, started, control, "cancelled")
                await emit("failed", "deadline passed")
                raise DeadlineExceeded("Dspex-Deadline passed while the optimizer was running") from None
            except Exception as exc:
                await emit("failed", from_exception(exc).message)
                raise
            await emit("completed")
            return {**self._reply(call, started, control, "completed"), **result}
        finally:
            control.cancel.set()  # a worker shutting down mid-run stops the thread at its next check
            self.running.pop(call.run_id, None)
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    def _reply(self, call: CompileCall, started: float, control: Control, status: str) -> dict[str, Any]:
        return {
            "run_id": call.run_id, "optimizer": call.optimizer, "status": status,
            "evaluations": control.done, "worker": self.worker_id,
            "latency_ms": round((time.monotonic() - started) * 1000, 3),
        }


# --- message checks for the shared fixtures (src/protocol/optimize.ts) --------------------------------

_TOKEN = r"[A-Za-z0-9_-]{1,64}"


def _token(msg: Mapping[str, Any], name: str, required: bool, limit: int = 64) -> None:
    value = msg.get(name)
    if value is None:
        if required:
            raise field_error(BadRequest, name, "is required")
        return
    if not isinstance(value, str) or not re.fullmatch(rf"[A-Za-z0-9_-]{{1,{limit}}}", value):
        raise field_error(BadRequest, name, f"expected 1-{limit} letters, digits, '_' or '-'")


def _map(msg: object) -> Mapping[str, Any]:
    if not isinstance(msg, Mapping):
        raise BadRequest("body: expected a map", details={"field": "body"})
    return msg


def check_compile_request(msg: object) -> None:
    """``dspex.rpc.optimize.compile``: the worker op's fields, ``run_id`` optional, plus ``pool``, ``variable``."""
    body = _map(msg)
    _token(body, "run_id", False)
    _token(body, "pool", False)
    _token(body, "variable", False, 128)
    parse_compile({**body, "run_id": body.get("run_id") or "run"})


def check_compile_reply(msg: object) -> None:
    body = _map(msg)
    _token(body, "run_id", True)
    if body.get("status") not in ("completed", "cancelled"):
        raise field_error(BadRequest, "status", "must be completed or cancelled")
    for name in ("evaluations", "latency_ms"):
        value = body.get(name)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise field_error(BadRequest, name, "is required (a number >= 0)")
    if not isinstance(body.get("worker"), str):
        raise field_error(BadRequest, "worker", "is required (a string)")
    if "state" in body and not isinstance(body["state"], Mapping):
        raise field_error(BadRequest, "state", "must be a map")


def check_optimize_event(msg: object) -> None:
    body = _map(msg)
    _token(body, "run_id", True)
    if body.get("status") not in ("running", "completed", "cancelled", "failed"):
        raise field_error(BadRequest, "status", "must be running, completed, cancelled or failed")
    for name in ("done", "total"):
        value = body.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise field_error(BadRequest, name, "is required (an integer >= 0)")
    for name in ("best_score", "last_score"):
        if name not in body or not (body[name] is None or isinstance(body[name], int | float)):
            raise field_error(BadRequest, name, "is required (a number or null)")


def check_worker_compile_request(msg: object) -> None:
    body = _map(msg)
    if body.get("op") != "compile":
        raise field_error(BadRequest, "op", "must be compile")
    parse_compile(body)


def check_cancel_request(msg: object) -> None:
    _token(_map(msg), "run_id", True)


def check_cancel_reply(msg: object) -> None:
    body = _map(msg)
    _token(body, "run_id", True)
    if body.get("cancelled") is not True:
        raise field_error(BadRequest, "cancelled", "must be true")


CHECKS: dict[str, Callable[[object], None]] = {
    "compile_request": check_compile_request,
    "worker_compile_request": check_worker_compile_request,
    "compile_reply": check_compile_reply,
    "optimize_event": check_optimize_event,
    "cancel_request": check_cancel_request,
    "cancel_reply": check_cancel_reply,
}
