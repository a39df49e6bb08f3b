"""Reports and exports are views of the same results and always agree."""

import csv
import io
import json

from grader.checks.registry import unrunnable_results
from grader.checks.results import CellRecord, CheckResult, StudentResult
from grader.outputs.exports import grades_csv, gradescope_results, with_manual_points
from grader.outputs.report import histogram_svg, render_index, render_student_report
from grader.spec import load_spec

SPEC = load_spec()


def _result(student="ada", status="ok", auto_points=7.0) -> StudentResult:
    checks = []
    for c in SPEC.checks:
        points = min(auto_points, c.points) if c.kind == "auto" else 0.0
        checks.append(
            CheckResult(
                c.id,
                c.title,
                c.question,
                points,
                c.points,
                "manual" if c.kind == "manual" else "partial",
                f"message for {c.id}",
                c.visibility,
                c.kind,
                {"value": 1},
            )
        )
    return StudentResult(
        student=student,
        status=status,
        status_message="ran",
        checks=tuple(checks),
        cells=(
            CellRecord(0, 1, 1.5, "ok", source_head="import numpy as np"),
            CellRecord(3, 2, 0.2, "error", "ValueError", "bad <shape>", "Traceback...", "x = 1"),
        ),
        environment={
            "seed_kind": "development",
            "seed_note": "Development seed: reproducible by anyone",
            "versions": {"numpy": "2"},
        },
        timings={"execution_s": 12.0},
        details={"answers": {"Q1": "<script>alert('x')</script> 913 parameters"}},
    )


def test_grades_csv_has_the_contract_columns_and_one_row_per_student():
    rows = list(csv.DictReader(io.StringIO(grades_csv([_result("bo"), _result("al")], SPEC))))
    assert list(rows[0])[:6] == [
        "student",
        "score",
        "max_score",
        "auto_score",
        "auto_max",
        "status",
    ]
    assert {"general", "Q1", "Q6"} <= set(rows[0])
    assert [r["student"] for r in rows] == ["al", "bo"]
    assert rows[0]["max_score"] == "130" and rows[0]["auto_max"] == "100"


def test_manual_points_count_in_score_but_not_in_auto_score():
    graded = with_manual_points(
        _result(), {"Q1": {"points": 4, "comment": "good"}, "Q2": {"points": 99}}
    )
    assert graded.score - graded.auto_score == 9  # 4 + 5 (capped at the maximum)
    row = next(csv.DictReader(io.StringIO(grades_csv([graded], SPEC))))
    assert float(row["score"]) == graded.score


def test_gradescope_results_follow_the_schema():
    payload = gradescope_results(_result())
    assert payload["score"] == _result().score
    test = payload["tests"][0]
    assert set(test) >= {"name", "score", "max_score", "output", "visibility"}
    hidden = [
        t
        for t in payload["tests"]
        if "hidden data" in t["name"] or t["visibility"] == "after_published"
    ]
    assert hidden and all(t["visibility"] == "after_published" for t in hidden)
    json.dumps(payload)


def test_student_report_escapes_student_text_and_shows_every_section():
    html = render_student_report(_result(), SPEC)
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    for section in (
        "Score per question",
        "Written answers",
        "Cells that failed",
        "Time per cell",
        "Environment",
        "Development seed",
        "bad &lt;shape&gt;",
    ):
        assert section in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")


def test_class_index_lists_students_with_links_histogram_and_pass_rates():
    results = [_result("ada"), _result("bo", status="timeout", auto_points=0)]
    html = render_index(results, SPEC, secret=True)
    assert 'href="students/ada/report.html"' in html
    assert "<svg" in html and "Checks: how the class did" in html
    assert "Development seed" not in html


def test_unrunnable_submission_still_gets_every_check_with_the_reason():
    checks = unrunnable_results(SPEC, "No .ipynb notebook was found.")
    assert len(checks) == len(SPEC.checks)
    assert all(c.points == 0 and c.message == "No .ipynb notebook was found." for c in checks)


def test_histogram_counts_every_score():
    svg = histogram_svg([0, 10, 55, 100, 100], 100)
    assert svg.count("<rect") == 10 and "<title>2</title>" in svg
