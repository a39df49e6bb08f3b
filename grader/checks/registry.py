"""How checks are found and run: each check is a pure function from a `CheckContext` to an
`Outcome`, registered by id; points, thresholds and visibility come from the spec.
"""

from __future__ import annotations

import importlib
import logging
import math
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.checks.results import CellRecord, CheckResult
from grader.harvest.validate import Harvest
from grader.score.measure import Scores
from grader.spec import AssignmentSpec, CheckSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckContext:
    """Everything a check may read. Nothing here comes from the kernel unvalidated."""

    spec: AssignmentSpec
    harvest: Harvest
    scores: Scores
    execution_status: str
    execution_message: str
    cells: tuple[CellRecord, ...]
    probe_arguments: dict[str, Any]
    include_hidden: bool = True


@dataclass(frozen=True)
class Outcome:
    fraction: float
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


CheckFunction = Callable[[CheckContext], Outcome]


CHECKS: dict[str, CheckFunction] = {}


def check(check_id: str) -> Callable[[CheckFunction], CheckFunction]:
    def register(function: CheckFunction) -> CheckFunction:
        CHECKS[check_id] = function
        return function

    return register


QUESTION_MODULES = (
    "notebook",
    "functions",
    "q1_parameters",
    "q2_q3_main_model",
    "q4_noise",
    "q5_q6_motifs",
    "stress_suite",
    "answers",
)
"""The modules of `grader.checks` that define checks, in the order of the assignment."""


def registered_checks() -> dict[str, CheckFunction]:
    """Every check by id. Each question module registers its checks when imported; they
    import this module, so it imports them on first use rather than at its top."""
    for name in QUESTION_MODULES:
        importlib.import_module(f"grader.checks.{name}")
    return CHECKS


def run_check(check_spec: CheckSpec, ctx: CheckContext) -> CheckResult:
    """Run one check; an exception in a check is the grader's bug, reported as such."""
    function = registered_checks().get(check_spec.id)
    base = {
        "name": check_spec.id,
        "title": check_spec.title,
        "question": check_spec.question,
        "max_points": check_spec.points,
        "visibility": check_spec.visibility,
        "kind": check_spec.kind,
    }
    if check_spec.visibility == "hidden" and not ctx.include_hidden:
        return CheckResult(
            points=0.0,
            status="skipped",
            message="Hidden check: it runs only when the instructor grades on the hidden data.",
            **base,
        )
    if function is None:
        return CheckResult(
            points=0.0, status="error", message=f"No check named {check_spec.id!r}.", **base
        )
    try:
        outcome = function(ctx)
    except Exception as exc:
        # The traceback travels with the result: checks run in workers, and the
        # coordinator writes it to the run's grader.log and lists it on the class index.
        log.debug("check %s crashed", check_spec.id, exc_info=True)
        return CheckResult(
            points=0.0,
            status="error",
            message=f"The grader failed on this check ({type(exc).__name__}: {exc}); "
            "your instructor has been told.",
            traceback=traceback.format_exc(),
            **base,
        )
    if check_spec.kind == "manual":
        return CheckResult(
            points=0.0, status="manual", message=outcome.message, evidence=outcome.evidence, **base
        )
    fraction = float(min(max(outcome.fraction, 0.0), 1.0))
    points = round(fraction * check_spec.points, 2)
    status = "passed" if fraction >= 1.0 else ("partial" if fraction > 0 else "failed")
    return CheckResult(
        points=points,
        status=status,
        message=outcome.message,
        evidence=_jsonable(outcome.evidence),
        **base,
    )


def run_checks(ctx: CheckContext) -> tuple[CheckResult, ...]:
    return tuple(run_check(c, ctx) for c in ctx.spec.checks)


def unrunnable_results(spec: AssignmentSpec, reason: str) -> tuple[CheckResult, ...]:
    """Every check at zero with the same reason: the notebook could not run at all."""
    return tuple(
        CheckResult(
            name=c.id,
            title=c.title,
            question=c.question,
            points=0.0,
            max_points=c.points,
            status="manual" if c.kind == "manual" else "failed",
            message=reason,
            visibility=c.visibility,
            kind=c.kind,
        )
        for c in spec.checks
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
