"""The ``compile`` op: DSPy optimizers with the dummy LM, metrics, progress events and cancellation."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import dspy
import msgpack
import pytest

from dspex_worker import metrics, protocol
from dspex_worker.errors import BadRequest, NotFound
from dspex_worker.lm import LmChooser
from dspex_worker.optimize_request import CompileCall
from dspex_worker.optimize_thread import Cancelled, Control, run_compile
from dspex_worker.state import apply_state

from .conftest import PREFIX, call

POOL = f"{PREFIX}.pool.t"
# The dummy answers "answer for <question>": an example passes `contains` when its label is in its question.
TRAIN = [
    {"question": "Capital of France? Paris", "answer": "Paris"},
    {"question": "What is 2+2?", "answer": "4"},
    {"question": "Colour of the sky: blue", "answer": "blue"},
    {"question": "Who wrote Hamlet?", "answer": "Shakespeare"},
    {"question": "Largest planet: Jupiter", "answer": "jupiter"},
    {"question": "Square root of 9?", "answer": "3"},
]
PASSING = {"Capital of France? Paris", "Colour of the sky: blue", "Largest planet: Jupiter"}


def compile_body(optimizer: str, settings: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"op": "compile", "run_id": "r-1", "optimizer": optimizer, "module": "Predict",
            "signature": "question -> answer", "trainset": TRAIN, "metric": {"name": "contains", "field": "answer"},
            "settings": settings, **extra}


def parse_compile(body: dict[str, Any]) -> CompileCall:
    call_ = protocol.parse_worker_request(body)
    assert isinstance(call_, CompileCall)
    return call_


def test_builtin_metrics_normalise_case_and_whitespace() -> None:
    assert metrics.exact_match(" Paris ", "paris") == 1.0
    assert metrics.exact_match("Paris", "Paris, France") == 0.0
    assert metrics.contains("paris", "It is  PARIS.") == 1.0
    assert metrics.contains("", "anything") == 0.0
    assert metrics.f1("the cat sat", "the cat") == pytest.approx(0.8)
    assert metrics.f1("a b", "c d") == 0.0


def test_metric_names_are_resolved_from_the_registry_only() -> None:
    fn = metrics.resolve_metric({"name": "nonempty_answer"}, ["answer"])
    assert fn(dspy.Example(question="q"), dspy.Prediction(answer=" x "), None) == 1.0
    with pytest.raises(NotFound) as err:
        metrics.resolve_metric({"name": "os.system"}, ["answer"])
    assert err.value.details == {"field": "metric.name"}
    with pytest.raises(BadRequest) as bad:
        metrics.resolve_metric({"name": "f1", "field": "nope"}, ["answer"])
    assert bad.value.details == {"field": "metric.field"}
    assert "exact_match" in metrics.registered() and "nonempty_answer" in metrics.registered()


@pytest.mark.parametrize(("body", "field"), [
    ({"optimizer": "GEPA"}, "optimizer"),
    ({"module": "ReAct"}, "module"),
    ({"trainset": []}, "trainset"),
    ({"trainset": ["x"]}, "trainset.0"),
    ({"metric": {"field": "answer"}}, "metric.name"),
    ({"metric": {"name": "os.system"}}, "metric.name"),
    ({"settings": {"max_bootstrapped_demos": -1}}, "settings.max_bootstrapped_demos"),
    ({"settings": {"breadth": 3}}, "settings.breadth"),
    ({"run_id": "a.b"}, "run_id"),
])
def test_bad_compile_requests_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(BadRequest) as err:
        protocol.parse_worker_request({**compile_body("BootstrapFewShot", {}), **body})
    assert err.value.details is not None and err.value.details["field"] == field


@pytest.mark.parametrize(("optimizer", "settings", "field"), [
    ("COPRO", {"breadth": 1}, "settings.breadth"),
    ("MIPROv2", {"auto": "light", "num_trials": 2}, "settings.auto"),
    ("MIPROv2", {"minibatch_size": 7}, "settings.minibatch_size"),
])
def test_settings_dspy_refuses_together_are_a_400_not_a_500(optimizer: str, settings: dict[str, Any],
                                                             field: str) -> None:
    # Found by tests/test_fuzz_ops.py: each of these raised a ValueError inside DSPy (a 500).
    with pytest.raises(BadRequest) as err:
        parse_compile(compile_body(optimizer, settings))
    assert err.value.details is not None and err.value.details["field"] == field


def test_mipro_with_a_small_valset_and_default_minibatch_runs() -> None:
    body = compile_body("MIPROv2", {"num_candidates": 1, "num_trials": 1}, trainset=TRAIN[:2])
    result = run_compile(parse_compile(body), Control(), LmChooser("dummy"))
    assert "score" in result


def test_examples_missing_an_input_are_refused() -> None:
    call_ = parse_compile(compile_body("BootstrapFewShot", {}, trainset=[{"answer": "x"}]))
    with pytest.raises(BadRequest) as err:
        run_compile(call_, Control(), LmChooser("dummy"))
    assert err.value.details == {"field": "trainset.0"}


def test_bootstrap_few_shot_keeps_the_demos_that_pass_and_the_state_loads() -> None:
    body = compile_body("BootstrapFewShot", {"max_bootstrapped_demos": 2, "max_labeled_demos": 0})
    control = Control()
    result = run_compile(parse_compile(body), control, LmChooser("dummy"))
    demos = result["state"]["demos"]
    assert [d["question"] for d in demos] == ["Capital of France? Paris", "Colour of the sky: blue"]
    assert all(d["answer"] == f"answer for {d['question']}" for d in demos)
    assert result["score"] == pytest.approx(0.5)  # three of six pass, with or without demos
    assert control.done > 0
    program = dspy.Predict("question -> answer")
    apply_state(program, result["state"])
    assert len(program.demos) == 2


@pytest.mark.parametrize(("optimizer", "settings", "module"), [
    ("BootstrapFewShotWithRandomSearch",
     {"max_bootstrapped_demos": 2, "max_labeled_demos": 1, "num_candidate_programs": 2}, "Predict"),
    ("COPRO", {"breadth": 2, "depth": 1}, "Predict"),
    ("MIPROv2", {"num_candidates": 2, "num_trials": 2, "max_bootstrapped_demos": 1, "max_labeled_demos": 1,
                 "minibatch": False}, "Predict"),
    ("BootstrapFewShot", {"max_bootstrapped_demos": 1}, "ChainOfThought"),
])
def test_each_optimizer_completes_with_small_settings(optimizer: str, settings: dict[str, Any], module: str) -> None:
    control = Control()
    result = run_compile(parse_compile(compile_body(optimizer, settings, module=module)), control, LmChooser("dummy"))
    state = result["state"]
    predictor = state["predict"] if module == "ChainOfThought" else state
    assert isinstance(predictor["signature"]["instructions"], str)
    assert result["score"] == pytest.approx(0.5)
    assert control.done >= len(TRAIN)
    assert control.best_score == pytest.approx(0.5)


def test_copro_proposes_instructions_through_the_dummy() -> None:
    result = run_compile(parse_compile(compile_body("COPRO", {"breadth": 2, "depth": 1})), Control(),
                         LmChooser("dummy"))
    assert result["state"]["signature"]["instructions"].startswith("proposed_instruction for ")


def test_a_set_cancel_flag_stops_the_run_between_evaluations() -> None:
    control = Control()
    seen = threading.Event()
    body = compile_body("BootstrapFewShotWithRandomSearch", {"num_candidate_programs": 50},
                        trainset=TRAIN * 20)

    def stop_soon() -> None:
        seen.wait(30)
        control.cancel.set()

    original = control.check

    def check() -> None:
        if control.done >= 5:
            seen.set()
        original()

    control.check = check  # type: ignore[method-assign]
    threading.Thread(target=stop_soon, daemon=True).start()
    with pytest.raises(Cancelled):
        run_compile(parse_compile(body), control, LmChooser("dummy"))
    assert 5 <= control.done < 1000


async def test_compile_over_nats_reports_progress_and_replies_with_state(nc: Any, worker: str) -> None:
    events: list[dict[str, Any]] = []
    finished = asyncio.Event()

    async def on_event(msg: Any) -> None:
        event = msgpack.unpackb(msg.data)
        events.append(event)
        if event["status"] != "running":
            finished.set()

    sub = await nc.subscribe(f"{PREFIX}.events.optimize.r-nats", cb=on_event)
    body = compile_body("BootstrapFewShot", {"max_bootstrapped_demos": 2, "max_labeled_demos": 0}, run_id="r-nats")
    headers, reply = await call(nc, POOL, body, timeout=60)
    await asyncio.wait_for(finished.wait(), 10)  # the last progress event, which may trail the reply
    await sub.unsubscribe()
    assert "Nats-Service-Error-Code" not in headers, reply
    assert reply["status"] == "completed" and reply["worker"] == worker and reply["run_id"] == "r-nats"
    assert len(reply["state"]["demos"]) == 2
    assert reply["evaluations"] > 0
    assert events[0]["status"] == "running" and events[-1]["status"] == "completed"
    assert events[-1]["done"] == reply["evaluations"] and events[-1]["best_score"] == pytest.approx(0.5)


async def test_cancel_request_reaches_the_worker_running_the_run(nc: Any, worker: str) -> None:
    events: list[dict[str, Any]] = []
    started = asyncio.Event()
    finished = asyncio.Event()

    async def on_event(msg: Any) -> None:
        event = msgpack.unpackb(msg.data)
        events.append(event)
        if event["done"] > 0:
            started.set()
        if event["status"] != "running":
            finished.set()

    sub = await nc.subscribe(f"{PREFIX}.events.optimize.r-cancel", cb=on_event)
    body = compile_body("BootstrapFewShotWithRandomSearch", {"num_candidate_programs": 50},
                        run_id="r-cancel", trainset=TRAIN * 30)
    pending = asyncio.ensure_future(call(nc, POOL, body, timeout=120))
    await asyncio.wait_for(started.wait(), 60)
    _, ack = await call(nc, f"{PREFIX}.optimize.cancel.r-cancel", {}, timeout=5)
    assert ack == {"run_id": "r-cancel", "worker": worker, "cancelled": True}
    _, reply = await asyncio.wait_for(pending, 30)
    await asyncio.wait_for(finished.wait(), 10)
    await sub.unsubscribe()
    assert reply["status"] == "cancelled" and "state" not in reply
    assert events[-1]["status"] == "cancelled"
    assert reply["evaluations"] < 180 * 53  # far from the whole search
