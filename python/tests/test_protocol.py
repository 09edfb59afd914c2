"""protocol.py against every shared fixture, plus the pure checks behind 422s and the dummy LM.

The contract itself (contract.py: generated schemas, hand checks, error naming) is in test_contract.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dspex_worker import protocol
from dspex_worker.errors import BadRequest, NotFound, ValidationFailed, WorkerError
from dspex_worker.lm import dummy_answer
from dspex_worker.modules import ModuleCache, parse_signature
from dspex_worker.values import check_inputs

from .conftest import FIXTURES


def _load(kind: str) -> list[tuple[str, dict[str, Any]]]:
    files = sorted((FIXTURES / kind).glob("*.json"))
    assert files, f"no fixtures in {FIXTURES / kind}"
    return [(f.name, json.loads(Path(f).read_text())) for f in files]


@pytest.mark.parametrize(("name", "fixture"), _load("valid"), ids=lambda v: v if isinstance(v, str) else "")
def test_accepts_every_valid_fixture(name: str, fixture: dict[str, Any]) -> None:
    protocol.check(fixture["type"], fixture["message"])


@pytest.mark.parametrize(("name", "fixture"), _load("invalid"), ids=lambda v: v if isinstance(v, str) else "")
def test_rejects_every_invalid_fixture_naming_its_field(name: str, fixture: dict[str, Any]) -> None:
    with pytest.raises(WorkerError) as err:
        protocol.check(fixture["type"], fixture["message"])
    assert isinstance(fixture.get("field"), str), f"{name} names no field"
    assert err.value.details is not None and err.value.details["field"] == fixture["field"]
    assert err.value.message.startswith(fixture["field"])


def test_names_the_offending_field() -> None:
    with pytest.raises(BadRequest) as err:
        protocol.check("predict_request", {"module": "Predict", "signature": "q -> a", "inputs": {},
                                           "config": {"temperature": "hot"}})
    assert err.value.details == {"field": "config.temperature"}


def test_unknown_op_is_not_found() -> None:
    with pytest.raises(NotFound):
        protocol.parse_worker_request({"op": "explode"})


def test_unparseable_signature_is_a_bad_request_on_signature() -> None:
    with pytest.raises(BadRequest) as err:
        parse_signature("question answer ->-> x", None)
    assert err.value.details == {"field": "signature", "column": 19, "expected": "exactly one '->'"}


@pytest.mark.parametrize(
    ("inputs", "field", "needle"),
    [
        ({}, "inputs.q", "required"),
        ({"q": "x", "k": 1, "extra": 1}, "inputs.extra", "unknown input field"),
        ({"q": 3, "k": 1}, "inputs.q", "expected string, got integer"),
        ({"q": "x", "k": 1.5}, "inputs.k", "expected integer, got number"),
        ({"q": "x", "k": True}, "inputs.k", "expected integer, got boolean"),
        ({"q": "x", "k": 1, "xs": [1]}, "inputs.xs", "expected list of string"),
        ({"q": "x", "k": 1, "f": "1"}, "inputs.f", "expected number or null, got string"),
    ],
)
def test_input_checks_name_field_and_types(inputs: dict[str, Any], field: str, needle: str) -> None:
    sig = parse_signature("q, k: int, xs: list[str] | None, f: Optional[float] -> a", None)
    with pytest.raises(ValidationFailed) as err:
        check_inputs(sig, inputs)
    assert err.value.details == {"field": field}
    assert needle in err.value.message


def test_input_checks_accept_int_for_float_and_missing_optional() -> None:
    sig = parse_signature("q, f: float, d: dict[str, int], b: bool, o: Optional[str] -> a", None)
    kwargs = check_inputs(sig, {"q": "x", "f": 1, "d": {"a": 1}, "b": False})
    assert kwargs == {"q": "x", "f": 1, "d": {"a": 1}, "b": False, "o": None}


def test_dummy_answer_covers_every_output_type() -> None:
    built = ModuleCache().get(
        "ChainOfThought", "question -> answer, n: int, p: float, ok: bool, xs: list[int], kind: Literal['a', 'b']",
        None,
    )
    answer = dummy_answer(built.module, {"question": "What is 2+2?"})
    assert answer == {"reasoning": "reasoning for What is 2+2?", "answer": "answer for What is 2+2?",
                      "n": 42, "p": 0.5, "ok": True, "xs": [42], "kind": "a"}


def test_module_cache_is_a_bounded_lru() -> None:
    cache = ModuleCache(max_entries=2)
    first = cache.get("Predict", "a -> b", None)
    assert cache.get("Predict", "a -> b", None) is first
    cache.get("Predict", "a -> c", None)
    cache.get("Predict", "a -> d", None)
    assert len(cache) == 2
    assert cache.get("Predict", "a -> b", None) is not first
