"""contract.py: the generated schemas, the hand checks, and errors that name the field and echo nothing long.

The fixture-by-fixture agreement with the node is in test_protocol.py; these are properties over
generated messages (hypothesis), and the few readings of a schema where Python and ECMAScript differ.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dspex_worker import protocol
from dspex_worker.contract import Contract, formats_used, load_schemas
from dspex_worker.errors import BadRequest, WorkerError
from dspex_worker.optimize_request import SETTINGS

from .conftest import FIXTURES

VALID = [json.loads(f.read_text()) for f in sorted((FIXTURES / "valid").glob("*.json"))]
SECRET = "S3CR3T-" * 40  # 280 characters: never echoed past 64
PROPS = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow])

values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**64), 2**64), st.floats(allow_nan=False),
              st.text(max_size=12), st.sampled_from(("abc\n", "a.b", "", "😀" * 70, SECRET, "question -> answer"))),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(("a", "name", "op", SECRET)), inner, max_size=3)),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, Any]:
    """A valid fixture with one value replaced (or one key removed) somewhere inside it."""
    fixture = draw(st.sampled_from(VALID))
    msg = copy.deepcopy(fixture["message"])
    path = draw(st.sampled_from(_paths(msg)[1:] or [()]))
    if not path:
        return fixture["type"], draw(values)
    parent = msg
    for seg in path[:-1]:
        parent = parent[seg]
    if isinstance(parent, dict) and draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(values)
    return fixture["type"], msg


def test_every_format_a_schema_names_has_a_hand_check() -> None:
    assert formats_used(load_schemas()) == set(protocol.HAND_CHECKS) == {"dspex-signature", "dspex-type"}


def test_a_contract_refuses_to_start_with_a_format_nobody_checks() -> None:
    schemas = {"x": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "string", "format": "dspex-new"}}
    with pytest.raises(RuntimeError, match="dspex-new"):
        Contract(protocol.HAND_CHECKS, schemas)


def test_the_optimizers_the_schema_names_are_the_ones_the_worker_runs() -> None:
    schema = protocol.CONTRACT.schema("worker_compile_request")
    assert set(schema["properties"]["optimizer"]["enum"]) == set(SETTINGS)


@PROPS
@given(text=st.text(alphabet=st.sampled_from("aZ09_-.\n\r $😀é"), max_size=140))
def test_a_token_pattern_ends_where_ecmascript_ends_it(text: str) -> None:
    # `^[A-Za-z0-9_-]+$` in Python's re also matches "abc\n"; zod (ECMAScript) does not. Both the fast
    # validator and the explainer read `$` as the end of the string.
    ok = re.fullmatch(r"[A-Za-z0-9_-]{1,128}", text) is not None
    try:
        protocol.check("session_id_request", {"id": text})
    except BadRequest as err:
        assert not ok, text
        assert err.details == {"field": "id"}
    else:
        assert ok, text


@PROPS
@given(case=mutated())
def test_a_rejected_message_names_a_field_and_echoes_nothing_long(case: tuple[str, Any]) -> None:
    message_type, msg = case
    try:
        protocol.check(message_type, msg)
    except WorkerError as err:
        assert err.details is not None and isinstance(err.details.get("field"), str)
        assert err.message.startswith(err.details["field"]) or err.details["field"] == "body"
        assert SECRET[:65] not in err.message and SECRET[:65] not in json.dumps(err.details)
        assert "does not satisfy" not in err.message  # jsonschema explained what fastjsonschema refused
        assert len(err.message) < 600


@PROPS
@given(case=mutated())
def test_the_fast_validator_and_the_explainer_agree(case: tuple[str, Any]) -> None:
    message_type, msg = case
    if message_type == "worker_request":
        return  # dispatched on `op` first, checked per branch: covered by the property above
    validator = protocol.CONTRACT.validator(message_type)
    try:
        validator(msg)
        fast_ok = True
    except BadRequest:
        fast_ok = False
    assert validator._slow is None or fast_ok is not True or not list(validator._slow.iter_errors(msg))
    if not fast_ok:
        assert validator._slow is not None and list(validator._slow.iter_errors(msg))


def test_zod_order_decides_which_field_is_named_first() -> None:
    # zod reports fields in the order its schema lists them, a missing one in its place.
    body = {"signature": "q -> a", "inputs": [], "config": {"temperature": "hot"}}  # module missing
    with pytest.raises(BadRequest) as err:
        protocol.check("predict_request", body)
    assert err.value.details == {"field": "module"}


def test_an_unknown_strict_key_and_a_bad_key_are_named_without_echoing_them() -> None:
    run = {"pipeline": {"name": "p", "stages": [{"id": "s", "kind": "fn", "fn": "f", SECRET: 1}]}}
    with pytest.raises(BadRequest) as err:
        protocol.check("pipeline_run_request", run)
    assert err.value.details == {"field": "pipeline.stages.0"}
    assert "unknown key" in err.value.message and SECRET[:65] not in err.value.message
    inputs = {"module": "Predict", "signature": "q -> a", "inputs": {1: "x"}}
    with pytest.raises(BadRequest) as bad:
        protocol.check("predict_request", inputs)
    assert bad.value.details == {"field": "inputs.1"}


def test_a_long_key_in_a_path_is_cut() -> None:
    body = {"pipeline": {"name": "p", "stages": [{"id": "s", "kind": "fn", "fn": "f",
                                                  "inputs": {SECRET: {"nope": 1}}}]}}
    with pytest.raises(BadRequest) as err:
        protocol.check("pipeline_run_request", body)
    field = err.value.details["field"] if err.value.details else ""
    assert field.startswith("pipeline.stages.0.inputs.S3CR3T-") and len(field) < 120


def test_a_worker_op_reads_null_as_absent_as_it_always_has() -> None:
    call = protocol.parse_worker_request({
        "op": "predict", "module": "Predict", "signature": "q -> a", "inputs": {"q": "x"}, "instructions": None,
        "demos": None, "config": {"temperature": None, "n": 2, "future_key": 1},
        "tools": [{"name": "t", "description": None}],
    })
    assert isinstance(call, protocol.PredictCall)
    assert (call.instructions, call.demos, call.config) == (None, [], {"n": 2})
    assert call.tools == [{"name": "t"}]
