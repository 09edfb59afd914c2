"""The ``compile`` op's request: the optimizer settings the worker accepts, and :class:`CompileCall`.

``{op: "compile", run_id, optimizer, module?, signature, instructions?, state?, trainset, valset?,
metric, settings?}`` (docs/optimization.md). Its shape is the contract's (``worker_compile_request``,
checked by :func:`~dspex_worker.protocol.parse_worker_request`); this module adds what only the worker
knows: which settings each DSPy optimizer takes, of which type, and which DSPy refuses together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import BadRequest, field_error

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


def compile_call(body: Mapping[str, Any]) -> CompileCall:
    """A compile request whose shape the contract accepted, with its settings checked for its optimizer
    (signature and example keys are checked at run time)."""
    optimizer = body["optimizer"]
    settings = body.get("settings") or {}
    allowed = SETTINGS[optimizer]
    for key, value in settings.items():
        if key not in allowed:
            raise field_error(BadRequest, f"settings.{key}",
                              f"is not a setting of {optimizer} (known: {', '.join(allowed)})")
        ok, what, _ = allowed[key]
        if not ok(value):
            raise field_error(BadRequest, f"settings.{key}", f"must be {what}")
    trainset = [dict(row) for row in body["trainset"]]
    valset = body.get("valset")
    _check_combination(optimizer, settings, len(valset or trainset))
    state = body.get("state")
    return CompileCall(
        run_id=body["run_id"], optimizer=optimizer, module=body.get("module") or "Predict",
        signature=body["signature"], trainset=trainset,
        valset=None if valset is None else [dict(row) for row in valset], metric=dict(body["metric"]),
        instructions=body.get("instructions"), state=None if state is None else dict(state),
        settings=dict(settings),
    )


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
