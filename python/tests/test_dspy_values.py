"""DSPy's own types on the worker: wire forms checked like the node's zod schemas, real DSPy objects
built from them (never from a file path or a download), and outputs sent back in the same forms.

The shared fixture fixtures/signatures/dspy-values.json is checked by test/unit/signature/dspy-types.test.ts
against the TS schemas too.
"""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any

import dspy
import pytest

from dspex_worker.dspy_values import fits, to_wire
from dspex_worker.errors import ValidationFailed
from dspex_worker.signatures import build_signature
from dspex_worker.values import check_inputs, demo_values, matches

FIXTURE = Path(__file__).parents[2] / "fixtures" / "signatures" / "dspy-values.json"
TYPES: dict[str, dict[str, list[Any]]] = json.loads(FIXTURE.read_text(encoding="utf-8"))["types"]
CASES = [(name, value, ok) for name, forms in TYPES.items() for ok in (True, False)
         for value in forms["valid" if ok else "invalid"]]


@pytest.mark.parametrize(("name", "value", "ok"), CASES, ids=[f"{n}-{'ok' if ok else 'bad'}-{i}"
                                                             for i, (n, _, ok) in enumerate(CASES)])
def test_the_wire_forms_are_the_node_s(name: str, value: Any, ok: bool) -> None:
    assert fits(name, value) is ok


def test_every_dspy_type_has_fixtures() -> None:
    assert set(TYPES) == {"Image", "Audio", "File", "History", "Tool", "ToolCalls", "Code", "Reasoning"}


SIG = ("photo: dspy.Image, clip: dspy.Audio, doc: dspy.File, history: dspy.History, tools: list[dspy.Tool], "
       "calls: dspy.ToolCalls, snippet: dspy.Code['python'], thought: dspy.Reasoning, maybe: Optional[dspy.Image] "
       "-> answer")
INPUTS: dict[str, Any] = {
    "photo": "data:image/png;base64,iVBORw0KGgo=",
    "clip": "data:audio/x-wav;base64,UklGRg==",
    "doc": {"file_id": "file-abc", "filename": "a.pdf"},
    "history": {"messages": [{"photo": "https://example.com/old.png", "answer": "a cat"}]},
    "tools": [{"name": "search", "description": "Search.", "parameters": {
        "type": "object", "properties": {"q": {"type": "string", "pattern": "(a+)+$"}}}}],
    "calls": {"tool_calls": [{"name": "search", "args": {"q": "cats"}}]},
    "snippet": "print(1)",
    "thought": "because",
    "maybe": None,
}


def test_inputs_become_real_dspy_objects() -> None:
    kwargs = check_inputs(build_signature(SIG, None), INPUTS)
    assert isinstance(kwargs["photo"], dspy.Image) and kwargs["photo"].url == INPUTS["photo"]
    assert isinstance(kwargs["clip"], dspy.Audio) and kwargs["clip"].audio_format == "wav"
    assert isinstance(kwargs["doc"], dspy.File) and kwargs["doc"].file_id == "file-abc"
    assert isinstance(kwargs["history"], dspy.History) and kwargs["history"].messages == INPUTS["history"]["messages"]
    tool = kwargs["tools"][0]
    assert isinstance(tool, dspy.Tool) and tool.name == "search" and tool.desc == "Search."
    # The schema from the wire is cut down as ReAct tools' are: no regular expression reaches the worker.
    assert tool.args == {"q": {"type": "string"}}
    with pytest.raises(RuntimeError, match="does not run"):
        tool.func(q="x")
    assert isinstance(kwargs["calls"], dspy.ToolCalls) and kwargs["calls"].tool_calls[0].args == {"q": "cats"}
    assert isinstance(kwargs["snippet"], dspy.Code) and kwargs["snippet"].language == "python"
    assert isinstance(kwargs["thought"], dspy.Reasoning) and kwargs["thought"].content == "because"
    assert kwargs["maybe"] is None


def test_objects_go_back_in_their_wire_forms() -> None:
    kwargs = check_inputs(build_signature(SIG, None), INPUTS)
    wire = to_wire(kwargs)
    assert wire["photo"] == INPUTS["photo"]
    assert wire["clip"] == "data:audio/wav;base64,UklGRg=="  # DSPy drops the x- of x-wav
    assert wire["doc"] == INPUTS["doc"]
    assert wire["history"] == INPUTS["history"]
    assert wire["calls"] == INPUTS["calls"]
    assert wire["snippet"] == "print(1)" and wire["thought"] == "because"
    assert wire["tools"] == [{"name": "search", "description": "Search.",
                              "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]
    assert wire["maybe"] is None
    kinds = {"photo": "Image", "clip": "Audio", "doc": "File", "history": "History", "tools": "Tool",
             "calls": "ToolCalls", "snippet": "Code", "thought": "Reasoning"}
    for field, kind in kinds.items():
        values = wire[field] if kind == "Tool" else [wire[field]]
        assert all(fits(kind, v) for v in values), field


@pytest.mark.parametrize("value", ["/etc/passwd", "file:///etc/passwd", "../secrets.png", "~/.ssh/id_rsa"])
def test_a_path_is_a_422_and_no_file_is_read(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    import builtins

    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda f, *a, **k: opened.append(str(f)) or real_open(f, *a, **k))
    with pytest.raises(ValidationFailed) as err:
        check_inputs(build_signature("photo: dspy.Image -> a", None), {"photo": value})
    assert err.value.details["field"] == "inputs.photo"
    assert "image" in err.value.message
    assert opened == []


def test_a_set_is_a_list_of_distinct_items_and_json_has_one_number_type() -> None:
    sig = build_signature("s: set[int], t: tuple[int, str], e: Literal[1e19, 9007199254740992.0] -> a", None)
    ok = {"s": [1, 2], "t": [1, "x"], "e": 10**19}
    assert check_inputs(sig, ok)["s"] == [1, 2]
    for bad in ({**ok, "s": [1, 1]}, {**ok, "t": [1]}, {**ok, "t": ["x", 1]}, {**ok, "e": 3}):
        with pytest.raises(ValidationFailed):
            check_inputs(sig, bad)
    # msgpack carries 2**53 * 1.0 (integral) as an integer: the same JSON number as the float literal.
    assert check_inputs(sig, {**ok, "e": 2**53})["e"] == 2**53
    literal = typing.Literal[1.0]
    assert matches(1, literal) and not matches(True, literal)


def test_demo_values_of_dspy_types_become_objects_and_text_stays_text() -> None:
    sig = build_signature("photo: dspy.Image -> caption", None)
    demos = demo_values(sig, [{"photo": "https://example.com/a.png", "caption": "a cat"},
                              {"photo": "an image of a dog", "caption": "a dog"}])
    assert isinstance(demos[0]["photo"], dspy.Image)
    assert demos[1]["photo"] == "an image of a dog"
