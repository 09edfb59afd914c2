"""Program state from the wire: DSPy's JSON state applied with load_state, cached by its hash."""

from __future__ import annotations

from typing import Any

import dspy
import pytest

from dspex_worker.errors import BadRequest
from dspex_worker.modules import ModuleCache
from dspex_worker.protocol import parse_worker_request


def prepare(cache: ModuleCache, **body: Any) -> Any:
    call = parse_worker_request({"op": "predict", "signature": "question -> answer", "inputs": {"question": "q"},
                                 **body})
    return cache.for_call(call)


def cot_state(demos: list[dict[str, Any]], instructions: str = "Answer tersely.") -> dict[str, Any]:
    program = dspy.ChainOfThought("question -> answer")
    program.predict.demos = [dspy.Example(**d) for d in demos]
    program.predict.signature = program.predict.signature.with_instructions(instructions)
    return dict(program.dump_state())


def test_a_state_saved_by_dspy_is_loaded_into_the_built_module() -> None:
    cache = ModuleCache()
    state = cot_state([{"question": "2+2", "reasoning": "add", "answer": "4"}])
    built = prepare(cache, module="ChainOfThought", state=state)
    predictor = built.module.predict
    assert predictor.signature.instructions == "Answer tersely."
    assert [dict(d) for d in predictor.demos] == [{"question": "2+2", "reasoning": "add", "answer": "4"}]
    assert dict(built.module.dump_state()) == state


def test_built_modules_are_cached_per_state_hash() -> None:
    cache = ModuleCache()
    a = prepare(cache, module="ChainOfThought", state=cot_state([]))
    assert prepare(cache, module="ChainOfThought", state=cot_state([])) is a
    b = prepare(cache, module="ChainOfThought", state=cot_state([], "Other."))
    assert b is not a
    assert prepare(cache, module="ChainOfThought") is not a


def test_the_lm_of_a_state_is_ignored() -> None:
    state = cot_state([])
    state["predict"]["lm"] = {"model": "openai/gpt-4o", "api_base": "http://evil.example/v1"}
    built = prepare(ModuleCache(), module="ChainOfThought", state=state)
    assert built.module.predict.lm is None


def test_multi_chain_comparison_takes_dspy_own_state_shape() -> None:
    mcc = dspy.MultiChainComparison("question -> answer", M=2)
    mcc.predict.signature = mcc.predict.signature.with_instructions("Compare.")
    built = prepare(ModuleCache(), module="MultiChainComparison", options={"M": 2}, state=dict(mcc.dump_state()))
    assert built.module.compare.predict.signature.instructions == "Compare."


@pytest.mark.parametrize(("state", "field"), [
    ({"predict": []}, "state.predict"),
    ({}, "state.predict"),
    ({"predict": {"signature": {"instructions": "x", "fields": [1]}}}, "state.predict.signature.fields"),
    ({"predict": {"signature": {"instructions": "x"}, "demos": "no"}}, "state.predict.demos"),
])
def test_a_state_that_does_not_fit_is_a_400(state: dict[str, Any], field: str) -> None:
    with pytest.raises(BadRequest) as err:
        prepare(ModuleCache(), module="ChainOfThought", state=state)
    assert err.value.details == {"field": field}


def test_a_plain_call_reuses_the_module_its_text_built_and_options_still_take_the_full_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dspex_worker.modules as modules

    cache = ModuleCache()
    first = prepare(cache, module="Predict")
    parsed: list[str] = []
    real = modules.parse_signature
    monkeypatch.setattr(modules, "parse_signature", lambda s, i: parsed.append(s) or real(s, i))
    assert prepare(cache, module="Predict") is first
    assert parsed == [], "a plain call of a text already built skips parsing, hashing and option checks"
    # Another text, or state, or options: the full path (and its checks) again.
    state = cot_state([{"question": "1+1", "reasoning": "add", "answer": "2"}])
    with_state = prepare(cache, module="ChainOfThought", state=state)
    assert with_state is not prepare(cache, module="ChainOfThought")
    assert parsed == ["question -> answer", "question -> answer"]
    prepare(cache, module="ReAct")
    with pytest.raises(BadRequest, match="ReAct has two predictors"):
        prepare(cache, module="ReAct", demos=[{"question": "q", "answer": "a"}])
    with pytest.raises(BadRequest, match="options"):
        prepare(cache, module="Predict", options={"N": 3})
