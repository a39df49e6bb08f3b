"""The hidden stress suite: what `model` learnt, benchmarked on controlled sets."""

from __future__ import annotations

from grader.checks.registry import CheckContext, Outcome, check


@check("stress_suite")
def stress_suite(ctx: CheckContext) -> Outcome:
    """Benchmark of what `model` learned (grader/score/stress.py); 0 points unless the
    spec gives some."""
    from grader.score.stress import stress_outcome

    return Outcome(*stress_outcome(ctx.scores.stress))
