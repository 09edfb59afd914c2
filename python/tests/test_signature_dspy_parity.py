"""Issue 16: generated signatures across the whole grammar, against DSPy 3.4.1 and the TS engine.

For every generated text (``signature_gen.whole_grammar``):

- the worker's grammar and the TS engine (test/harness/signature-oracle.ts) give the same verdict:
  fields, canonical text, or column and refusal code;
- where both the grammar and DSPy accept, the fields agree (DSPy's annotations in canonical spelling);
- where the grammar accepts and DSPy refuses, the text used an extension of the grammar: DSPy accepts
  its canonical text, with the same fields;
- where DSPy accepts and the grammar refuses, the refusal is a deliberate, documented one
  (``details.refusal`` is one of :data:`REFUSALS`); nothing else;
- round trip: the canonical text parses to the same fields and prints itself again.

Every specimen of a refused kind the generator uses is also checked on its own, in a plain signature,
so that each refusal kind is seen whatever hypothesis draws. The tallies (agreements, extensions,
refusals by kind) are printed at the end of the module.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from dspex_worker.signature_types import REFUSALS

from .dspy_reference import dspy_verdict
from .signature_gen import BAD_NAMES, REFUSED_TYPES, whole_grammar
from .test_signature_grammar import Oracle, ts_engine, verdict  # noqa: F401 - ts_engine is a fixture

pytestmark = pytest.mark.filterwarnings("ignore:Field name .* shadows an attribute:UserWarning")

GENERATED = 3000


def classify(text: str, ts: dict[str, Any]) -> str:
    """The parity class of one text; raises AssertionError on any disagreement not documented."""
    ours = verdict(text)
    assert "crash" not in ts, (text, ts)
    assert ours == ts, f"python and typescript disagree on {text!r}: {ours} != {ts}"
    reference = dspy_verdict(text)
    if ours["ok"]:
        again = verdict(ours["canonical"])
        assert again == ours, f"round trip of {text!r}: {ours['canonical']!r} reads as {again}"
        if reference["ok"]:
            assert "unrepresentable" not in reference, (text, reference)
            assert (reference["inputs"], reference["outputs"]) == (ours["inputs"], ours["outputs"]), (
                text, reference, ours)
            return "agree: both accept"
        canonical = dspy_verdict(ours["canonical"])
        assert canonical.get("inputs") == ours["inputs"] and canonical.get("outputs") == ours["outputs"], (
            f"{text!r} is accepted as an extension, but DSPy reads its canonical text "
            f"{ours['canonical']!r} as {canonical}")
        return "extension: dspex accepts, DSPy refuses the spelling"
    if reference["ok"]:
        refusal = ours.get("refusal")
        assert refusal in REFUSALS, f"DSPy accepts {text!r} ({reference}) but the grammar refuses it without a " \
                                    f"documented reason: {ours}"
        return f"refusal: {refusal}"
    return "agree: both refuse"


@pytest.fixture(scope="module")
def tally(pytestconfig: pytest.Config) -> Iterator[Counter[str]]:
    counts: Counter[str] = Counter()
    yield counts
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        total = sum(counts.values())
        print(f"\nsignature parity (python): {total} strings compared with dspy.Signature and the TS engine "
              f"({total - len(SPECIMENS)} generated, {len(SPECIMENS)} refusal specimens)")
        for key, n in sorted(counts.items()):
            print(f"  {n:6d}  {key}")


@settings(max_examples=GENERATED, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(text=whole_grammar)
def test_generated_signatures_agree_with_dspy_or_are_documented_refusals(
    ts_engine: Oracle, tally: Counter[str], text: str  # noqa: F811
) -> None:
    tally[classify(text, ts_engine(text))] += 1


SPECIMENS = [(kind, text) for kind, specimens in REFUSED_TYPES.items() for specimen in specimens
             for text in (f"q: {specimen} -> a", f"q -> a: list[{specimen}] | None")]
SPECIMENS += [("name", f"{name}, q -> a") for name in BAD_NAMES]
SPECIMENS += [("field", text) for text in ("a, a -> b", "a=1 -> b", "a: int = 1 -> b", "*a -> b", "a, *, b -> c",
                                           "a, /, b -> c", "**kw -> b", "h: list[dspy.History] -> a",
                                           "q -> h: dspy.History", "q -> t: dspy.Tool",
                                           "h: dspy.History, g: dspy.History -> a",
                                           ", ".join(f"f{i}" for i in range(65)) + " -> a",
                                           "q: " + "list[" * 10 + "int" + "]" * 10 + " -> a")]


@pytest.mark.parametrize(("kind", "text"), SPECIMENS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(SPECIMENS)])
def test_every_refusal_specimen_is_classified(ts_engine: Oracle, tally: Counter[str],  # noqa: F811
                                              kind: str, text: str) -> None:
    """Each specimen of the generator, in a plain signature: what DSPy accepts must be refused with the
    specimen's documented code (those listed under "both refuse" DSPy refuses too)."""
    result = classify(text, ts_engine(text))
    tally[result] += 1
    if kind in REFUSALS:
        assert result in (f"refusal: {kind}", "agree: both refuse"), (text, result)
    if kind == "both refuse":
        assert result == "agree: both refuse", (text, result)


def test_the_generator_covers_accepted_and_refused_text_and_every_refusal_kind(tally: Counter[str]) -> None:
    """Runs after the property and the specimens (same module): a generator that only made junk would
    prove nothing, and every refusal kind must have been seen where DSPy accepts."""
    total = sum(tally.values())
    assert total >= GENERATED + len(SPECIMENS)
    assert tally["agree: both accept"] >= total // 5
    assert tally["extension: dspex accepts, DSPy refuses the spelling"] > 0
    refusals = {k.removeprefix("refusal: ") for k in tally if k.startswith("refusal: ")}
    assert refusals == REFUSALS, REFUSALS - refusals
