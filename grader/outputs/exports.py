"""Grade exports: the CSV gradebook and Gradescope-style results.json.

Both are views of `StudentResult`s (plus hand-entered points for the written
answers), so they always agree with the HTML reports.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from grader.checks.results import CheckResult, StudentResult
from grader.outputs.leaderboard import gradescope_leaderboard
from grader.spec import QUESTIONS, AssignmentSpec

GRADESCOPE_VISIBILITY = {"public": "visible", "hidden": "after_published"}


def with_manual_points(
    result: StudentResult, manual: Mapping[str, Mapping[str, Any]] | None
) -> StudentResult:
    """A copy of `result` with hand-entered points applied to the manual checks."""
    if not manual:
        return result
    checks = []
    for check in result.checks:
        entry = manual.get(check.question) if check.kind == "manual" else None
        if entry is not None and entry.get("points") is not None:
            points = max(0.0, min(float(entry["points"]), check.max_points))
            comment = entry.get("comment") or ""
            check = CheckResult(
                **{
                    **check.to_dict(),
                    "points": points,
                    "status": "passed" if points >= check.max_points else "partial",
                    "message": f"Graded by hand: {points:g} / {check.max_points:g}"
                    + (f". {comment}" if comment else "."),
                }
            )
        checks.append(check)
    return replace(result, checks=tuple(checks))


def grades_csv(results: Sequence[StudentResult], spec: AssignmentSpec) -> str:
    """One row per student: totals, status, then points per question."""
    questions = [q for q in QUESTIONS if any(c.question == q for c in spec.checks)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["student", "score", "max_score", "auto_score", "auto_max", "status", *questions]
    )
    for result in sorted(results, key=lambda r: r.student):
        per_question = result.question_scores()
        writer.writerow(
            [
                result.student,
                _number(result.score),
                _number(result.max_score),
                _number(result.auto_score),
                _number(result.auto_max),
                result.status,
            ]
            + [_number(per_question.get(q, (0.0, 0.0))[0]) for q in questions]
        )
    return buffer.getvalue()


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def gradescope_results(result: StudentResult, *, leaderboard: bool = True) -> dict[str, Any]:
    """The Gradescope autograder `results.json` for one student.

    With `leaderboard`, the model's benchmark numbers go in Gradescope's `leaderboard`
    field (grader/outputs/leaderboard.py); the spec's `[leaderboard] names = "off"` turns it off.
    """
    tests = []
    for check in result.checks:
        test = {
            "name": f"{check.question}: {check.title}",
            "name_format": "text",
            "score": check.points,
            "max_score": check.max_points,
            "output": check.message,
            "output_format": "text",
            "visibility": GRADESCOPE_VISIBILITY.get(check.visibility, "visible"),
            "tags": [check.question, check.kind],
        }
        # Hand-graded answers have no pass/fail until a person grades them.
        if check.status != "manual":
            test["status"] = "passed" if check.status == "passed" else "failed"
        tests.append(test)
    results: dict[str, Any] = {
        "score": result.score,
        "output": f"Status: {result.status}. {result.status_message}",
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "execution_time": result.timings.get("total_s", 0.0),
        "tests": tests,
    }
    board = gradescope_leaderboard(result) if leaderboard else []
    if board:
        results["leaderboard"] = board
    return results


def results_json(result: StudentResult, *, leaderboard: bool = True) -> str:
    return json.dumps(gradescope_results(result, leaderboard=leaderboard), indent=2)


def canvas_csv(
    results: Sequence[StudentResult],
    spec: AssignmentSpec,
    roster: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """A CSV that Canvas's gradebook import accepts: one assignment column of scores.

    Canvas matches rows on its own IDs; without a `roster` ({student: {"Student":
    name, "ID": canvas id, "SIS User ID": ..., "Section": ...}}) the grader's
    student id is put in "SIS Login ID", which matches when folders were named by
    login (as LMS exports usually are).
    """
    column = f"{spec.assignment.title} ({spec.assignment.id})"
    header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerow(["Points Possible", "", "", "", "", _number(spec.max_score)])
    for result in sorted(results, key=lambda r: r.student):
        person = dict((roster or {}).get(result.student, {}))
        writer.writerow(
            [
                person.get("Student", result.student),
                person.get("ID", ""),
                person.get("SIS User ID", ""),
                person.get("SIS Login ID", result.student),
                person.get("Section", ""),
                _number(result.score),
            ]
        )
    return buffer.getvalue()
