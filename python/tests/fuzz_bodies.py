"""Hypothesis strategies for worker-op bodies: random structures, plausible ops with hostile fields,
control characters in every string, huge and deeply nested values, hostile type strings, bad bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack
from hypothesis import strategies as st

from .hostile import hostile_signatures, hostile_types

# Strings: control characters (NUL, CR/LF, ESC, DEL, C1, line separators), look-alikes, long ones.
CONTROL = "\x00\r\n\t\x1b\x7f\x85\u2028\u2029\x0b\x0c"
nasty_text = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
    st.text(alphabet=st.sampled_from(CONTROL + "aZ09 :{}[]\"'\\->|.%$"), max_size=30),
    st.sampled_from(("", " ", "\r\nNats-Service-Error-Code: 200", "os.environ", "sys.argv", "__import__('os')",
                     "{{x}}", "%s%n", "../../etc/passwd", "123456789012345678901234567890", "1e999", "-0",
                     "a" * 300, "😀" * 40, "finish", "None", "null", "True")),
    st.integers(0, 200_000).map(lambda n: "x" * n),
)
names = st.one_of(st.sampled_from(("q", "a", "question", "answer", "x", "_x", "class", "inputs", "demos")), nasty_text)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**80), 2**80),  # past msgpack's range: only JSON bodies carry these
    nasty_text,
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=6), st.dictionaries(names, inner, max_size=6)),
    max_leaves=20,
)


@dataclass(frozen=True)
class Deep:
    """Lists nested ``depth`` deep, encoded straight to bytes (Python's encoders would recurse)."""

    depth: int
    inside: str = "predict"  # nested under a predict body's inputs, or the whole body

    def encode(self, as_json: bool) -> bytes:
        if as_json:
            core = "[" * self.depth + "1" + "]" * self.depth
            return (f'{{"op":"predict","module":"Predict","signature":"q -> a","inputs":{{"q":{core}}}}}'
                    if self.inside == "predict" else core).encode()
        core_b = b"\x91" * self.depth + b"\x01"
        if self.inside != "predict":
            return core_b
        head = msgpack.packb({"op": "predict", "module": "Predict", "signature": "q -> a"})
        # A 4-entry map: the three above plus "inputs": {"q": <core>}.
        return b"\x84" + head[1:] + msgpack.packb("inputs") + b"\x81" + msgpack.packb("q") + core_b


deep = st.builds(Deep, st.integers(10, 3000), st.sampled_from(("predict", "body")))
huge = st.one_of(
    st.integers(1_000, 60_000).map(lambda n: list(range(n))),
    st.integers(1_000, 20_000).map(lambda n: {f"k{i}": i for i in range(n)}),
    st.integers(100_000, 900_000).map(lambda n: "y" * n),
)
anything = st.one_of(values, deep, huge)

good_signatures = st.sampled_from(("q -> a", "question -> answer", "q: int -> a: list[str]",
                                   "q, k: Optional[int] -> a: bool", "q -> a: Literal['x', 'y']",
                                   "q -> a, b: dict[str, float]", "q -> a: Any"))
bad_signatures = st.one_of(hostile_signatures(), hostile_types.map(lambda t: f"q -> a: {t}"), nasty_text)
signatures = st.integers(0, 9).flatmap(lambda n: good_signatures if n < 7 else bad_signatures)
module_names = st.sampled_from(("Predict", "ChainOfThought", "ReAct", "MultiChainComparison", "BestOfN", "Refine"))
modules = st.integers(0, 9).flatmap(
    lambda n: module_names if n < 8 else st.one_of(st.sampled_from(("ProgramOfThought", "predict", "")), nasty_text))
optimizer_names = st.sampled_from(("BootstrapFewShot", "BootstrapFewShotWithRandomSearch", "MIPROv2", "COPRO"))
optimizers = st.integers(0, 9).flatmap(
    lambda n: optimizer_names if n < 8 else st.one_of(st.just("GEPA"), nasty_text))
small = st.integers(0, 3)
tool = st.fixed_dictionaries({"name": st.one_of(st.sampled_from(("add", "finish", "a.b", "x" * 65)), nasty_text)},
                             optional={"description": nasty_text, "parameters": values})
state = st.one_of(
    values,
    st.fixed_dictionaries({"demos": st.lists(st.dictionaries(names, values, max_size=3), max_size=3),
                           "signature": st.fixed_dictionaries({"instructions": nasty_text,
                                                               "fields": st.lists(values, max_size=3)}),
                           "lm": values}, optional={"traces": values, "train": values, "fields": values}),
)
reward = st.one_of(values, st.fixed_dictionaries({"kind": st.sampled_from(("builtin", "tool", "eval")),
                                                  "name": st.one_of(st.sampled_from(("non_empty", "contains")),
                                                                    nasty_text)},
                                                 optional={"field": names, "value": values}))
options = st.one_of(values, st.fixed_dictionaries({}, optional={
    "max_iters": st.one_of(small, values), "M": st.one_of(small, values), "N": st.one_of(small, values),
    "threshold": st.one_of(st.floats(0, 1), values), "reward": reward, "base": st.one_of(modules, values),
    "fail_count": st.one_of(small, values)}))
config = st.one_of(values, st.fixed_dictionaries({}, optional={
    "temperature": st.one_of(st.floats(0, 2), values), "max_tokens": st.one_of(st.integers(1, 50), values),
    "n": st.one_of(st.integers(1, 3), values), "lm": nasty_text, "cache": values,
    "dummy_script": st.one_of(st.lists(st.dictionaries(names, values, max_size=3), max_size=4), values)}))


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually the plausible value, sometimes anything at all (so that deep paths are reached too)."""
    return st.integers(0, 9).flatmap(lambda n: anything if n == 0 else strategy)


predict_bodies = st.fixed_dictionaries(
    {"op": st.just("predict"), "module": maybe(modules), "signature": maybe(signatures),
     "inputs": maybe(st.one_of(st.fixed_dictionaries({"q": values}), st.dictionaries(names, values, max_size=4)))},
    optional={"id": maybe(nasty_text), "config": config, "demos": maybe(st.lists(values, max_size=4)),
              "instructions": maybe(nasty_text), "options": options, "tools": maybe(st.lists(tool, max_size=3)),
              "completions": maybe(st.lists(values, max_size=4)), "state": state},
)
examples = st.one_of(
    st.lists(st.fixed_dictionaries({"q": nasty_text, "a": nasty_text}), min_size=1, max_size=4),
    st.lists(st.dictionaries(names, values, max_size=3), max_size=4),
)
settings_ = st.one_of(values, st.dictionaries(
    st.sampled_from(("max_bootstrapped_demos", "max_labeled_demos", "max_rounds", "num_candidate_programs",
                     "auto", "num_candidates", "num_trials", "breadth", "depth", "seed", "minibatch", "bogus")),
    st.one_of(st.integers(0, 2), st.sampled_from(("light", True)), values), max_size=3))
compile_bodies = st.fixed_dictionaries(
    {"op": st.just("compile"), "run_id": maybe(st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True)),
     "optimizer": maybe(optimizers), "signature": maybe(signatures), "trainset": maybe(examples),
     "metric": maybe(st.fixed_dictionaries({"name": st.one_of(st.sampled_from(("contains", "f1", "exact_match",
                                                                                "nonempty_answer")), nasty_text)},
                                           optional={"field": names}))},
    optional={"module": maybe(modules), "instructions": maybe(nasty_text), "state": state,
              "valset": maybe(examples), "settings": settings_},
)
op_bodies = st.one_of(
    predict_bodies, compile_bodies,
    st.fixed_dictionaries({"op": st.just("ping")}, optional={"x": values}),
    st.fixed_dictionaries({"op": st.one_of(nasty_text, values)}, optional={"module": values}),
    values,
)
bodies = st.one_of(op_bodies, op_bodies, op_bodies, anything, st.binary(max_size=200))
"""Anything sent to a worker subject: mostly op-shaped, with hostile fields."""

deadlines = st.one_of(st.none(), st.none(), st.sampled_from(("", "soon", "-1", "0", "1e309", "NaN", "9" * 40)),
                      st.integers(-10_000, 10_000).map(lambda ms: f"now{ms:+d}"))
traces = st.one_of(
    st.none(),
    st.text(alphabet=st.characters(codec="ascii", min_codepoint=32, max_codepoint=126), max_size=300),
    # Anything a NATS header line can carry: control characters too, but not CR or LF.
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), min_size=1, max_size=40),
)


@st.composite
def plausible_predicts(draw: st.DrawFn) -> dict[str, Any]:
    """A call every check accepts, with hostile text and values wherever data (not shape) goes."""
    module = draw(module_names)
    body: dict[str, Any] = {"op": "predict", "module": module, "signature": "q -> a", "inputs": {"q": draw(nasty_text)}}
    if draw(st.booleans()):
        body["signature"], body["inputs"] = draw(st.sampled_from((
            ("q: int -> a: list[str]", {"q": draw(st.integers(-(2**63), 2**63))}),
            ("q: Any -> a: dict[str, float]", {"q": draw(values)}),
            ("q: Optional[list[str]] -> a: Literal['x', 'y']", {"q": draw(st.lists(nasty_text, max_size=3))}),
            ("q, k: dict[str, Any] -> a: bool, b: float", {"q": draw(nasty_text), "k": draw(st.dictionaries(
                names, values, max_size=3))}),
        )))
    if draw(st.booleans()):
        body["instructions"] = draw(nasty_text)
    if draw(st.booleans()) and module != "ReAct":
        body["demos"] = draw(st.lists(st.fixed_dictionaries({"q": values, "a": values}), max_size=3))
    if draw(st.booleans()):
        body["config"] = {"dummy_script": draw(st.lists(st.dictionaries(
            st.sampled_from(("a", "b", "reasoning", "next_thought", "next_tool_name", "next_tool_args")), values,
            max_size=4), max_size=4))}
    if module == "ReAct":
        body["tools"] = draw(st.lists(st.fixed_dictionaries(
            {"name": st.sampled_from(("add", "lookup", "t-1"))}, optional={"description": nasty_text,
                                                                          "parameters": values}),
            max_size=2, unique_by=lambda t: t["name"]))
        body["options"] = {"max_iters": draw(st.integers(1, 3))}
    elif module == "MultiChainComparison":
        m = draw(st.integers(1, 3))
        body["options"] = {"M": m}
        if draw(st.booleans()):
            body["completions"] = [{"reasoning": draw(nasty_text), "a": draw(values)} for _ in range(m)]
    elif module in ("BestOfN", "Refine"):
        body["options"] = {"N": draw(st.integers(1, 3)), "threshold": draw(st.floats(0, 1)),
                           "reward": draw(st.one_of(
                               st.fixed_dictionaries({"kind": st.just("builtin"), "name": st.just("non_empty"),
                                                      "field": st.just("a")}),
                               st.fixed_dictionaries({"kind": st.just("builtin"),
                                                      "name": st.sampled_from(("contains", "exact_match")),
                                                      "field": st.just("a"), "value": nasty_text}),
                               st.fixed_dictionaries({"kind": st.just("tool"), "name": st.just("reward-fn")})))}
    if draw(st.integers(0, 4)) == 0:
        body["state"] = draw(state)
    return body
