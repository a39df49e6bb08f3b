"""The written answers Q1-Q6: found in the notebook and handed to a human grader."""

from __future__ import annotations

from grader.checks.registry import CHECKS, CheckContext, CheckFunction, Outcome


def _answer_check(question: str) -> CheckFunction:
    def answer(ctx: CheckContext) -> Outcome:
        text = ctx.harvest.answers.get(question, "")
        words = len(text.split())
        if text:
            return Outcome(0.0, f"Answer found ({words} words); graded by hand.", {"text": text})
        return Outcome(
            0.0,
            f"No answer found: add a Markdown cell whose first line is 'Answer {question}'.",
            {"text": ""},
        )

    return answer


for _q in range(1, 7):
    CHECKS[f"answer_q{_q}"] = _answer_check(f"Q{_q}")
