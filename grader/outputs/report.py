"""HTML reports: one per student and a class summary, rendered with Jinja2.

All numbers are computed here or earlier; the templates only lay them out. Reports
are self-contained (figures are data URIs, CSS inline) so they open from disk or as
CI artifacts. Student text is untrusted and always escaped (autoescape is on).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Any

import jinja2

from grader.checks.results import StudentResult
from grader.outputs.report_view import (
    answer_state,
    cell_label,
    cell_position,
    check_views,
    evidence_json,
    failed_cells,
    figure_alt,
    fix_first,
    markdown_html,
    markdown_inline,
    timing_rows,
)
from grader.resources import template_environment
from grader.run.isolation import NOT_ISOLATED_BANNER
from grader.spec import QUESTIONS, AssignmentSpec

QUESTION_LABELS = {
    "general": "Notebook and starter functions",
    "Q1": "Q1 — parameters",
    "Q2": "Q2 — kernel sizes and performance",
    "Q3": "Q3 — motif recovery",
    "Q4": "Q4 — noise",
    "Q5": "Q5 — multiple motifs",
    "Q6": "Q6 — interactions",
}


KERNEL_LOG_NAME = "kernel-stderr.log"


def write_kernel_log(folder: Path, result: StudentResult) -> Path | None:
    """The kernel's stderr beside the report, which links it; None when it wrote nothing."""
    text = result.details.get("kernel_log") or ""
    path = folder / KERNEL_LOG_NAME
    if not text.strip():
        path.unlink(missing_ok=True)
        return None
    path.write_text(text, encoding="utf-8")
    return path


@dataclass(frozen=True)
class SelfCheckTotals:
    """What a self-check report shows instead of the instructor's totals."""

    earned: float
    maximum: float
    hidden_max: float
    manual_max: float
    verdicts: dict[str, tuple[str, str]]


def fmt(value: float) -> str:
    """Points without trailing zeros: 5, 12.5, 0.75."""
    return f"{value:.2f}".rstrip("0").rstrip(".") if value is not None else "—"


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = template_environment()
    env.globals["fmt"] = fmt
    env.globals["cell_label"] = cell_label
    env.globals["cell_position"] = cell_position
    env.filters["md"] = markdown_html
    env.filters["md_inline"] = markdown_inline
    env.filters["evidence_json"] = evidence_json
    env.globals["not_isolated_banner"] = NOT_ISOLATED_BANNER
    return env


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_student_report(
    result: StudentResult,
    spec: AssignmentSpec,
    *,
    manual: dict[str, dict] | None = None,
    kernel_reference: dict[str, float] | None = None,
    self_check: SelfCheckTotals | None = None,
) -> str:
    """One student's report as a self-contained HTML page.

    With `self_check` it is the student's own self-check: public points out of public
    points, hidden checks "graded by your instructor" (see `grader.student.selfcheck`).
    """
    questions = []
    per_question = result.question_scores()
    scored = per_question
    if self_check is not None:
        # What the self-check can score: the public automatic checks, as its total.
        public = tuple(c for c in result.checks if c.visibility == "public" and c.kind == "auto")
        scored = replace(result, checks=public).question_scores()
    for q in QUESTIONS:
        if q not in per_question:
            continue
        points, maximum = scored.get(q, (0.0, 0.0))
        questions.append(
            {
                "label": QUESTION_LABELS[q],
                "points": points,
                "max": maximum,
                "percent": round(100 * points / maximum) if maximum else 0,
                "checks": [c for c in result.checks if c.question == q],
            }
        )
    manual = manual or {}
    pending = any(
        c.kind == "manual" and manual.get(c.question, {}).get("points") is None
        for c in result.checks
    )
    views = check_views(result, manual=manual, verdicts=self_check.verdicts if self_check else None)
    return (
        _environment()
        .get_template("student_report.html.j2")
        .render(
            r=result,
            title=spec.assignment.title,
            generated=_now(),
            env=result.environment,
            questions=questions,
            figures=result.figures,
            details=result.details,
            answers=result.details.get("answers", {}),
            manual=manual,
            manual_pending=pending,
            failed_cells=failed_cells(result),
            kernel_reference=kernel_reference or {},
            views=views,
            fix_first=fix_first(views),
            self_check=self_check,
            answer_states={
                q: answer_state(q, result.details.get("answers") or {}) for q in QUESTIONS
            },
            timing_rows=timing_rows(result.timings),
            figure_alt={name: figure_alt(name, result) for name in result.figures},
            kernel_log=KERNEL_LOG_NAME if (result.details.get("kernel_log") or "").strip() else "",
        )
    )


def histogram_svg(scores: Sequence[float], maximum: float, bins: int = 10) -> str:
    """A small inline SVG histogram of scores (no JavaScript, no images).

    Axis labels sit under the bin edges, every other edge, so they never run into
    each other however the figure is scaled; the label for screen readers lists the
    counts per bin.
    """
    width, height, pad = 360, 170, 22
    counts = [0] * bins
    for score in scores:
        index = min(int(bins * score / maximum), bins - 1) if maximum else 0
        counts[max(index, 0)] += 1
    top = max(counts) or 1
    bar_width = (width - 2 * pad) / bins
    edges = [maximum * i / bins for i in range(bins + 1)]
    described = "; ".join(
        f"{fmt(edges[i])} to {fmt(edges[i + 1])}: {count}"
        for i, count in enumerate(counts)
        if count
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:480px" role="img" '
        f'aria-label="Score histogram. {escape(described or "no scores")}">'
    ]
    for i, count in enumerate(counts):
        bar_height = (height - 2 * pad) * count / top
        x = pad + i * bar_width
        y = height - pad - bar_height
        parts.append(
            f'<rect x="{x + 2:.1f}" y="{y:.1f}" width="{bar_width - 4:.1f}" '
            f'height="{bar_height:.1f}" fill="#2b6cb0" rx="3"><title>{count}</title></rect>'
        )
        if count:
            parts.append(
                f'<text x="{x + bar_width / 2:.1f}" y="{y - 4:.1f}" font-size="12" '
                f'text-anchor="middle" fill="#1f2933">{count}</text>'
            )
    step = 2 if bins > 5 else 1
    for i in range(0, bins + 1, step):
        x = pad + i * bar_width
        parts.append(
            f'<text x="{x:.1f}" y="{height - 6}" font-size="12" fill="#52606d" '
            f'text-anchor="middle">{escape(fmt(edges[i]))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def render_index(results: Sequence[StudentResult], spec: AssignmentSpec, *, secret: bool) -> str:
    """The class summary page: sortable table, score histogram, per-check pass rates."""
    auto_scores = [r.auto_score for r in results]
    students = [
        {
            "student": r.student,
            "status": r.status,
            "auto_score": r.auto_score,
            "auto_max": r.auto_max,
            "score": r.score,
            "max_score": r.max_score,
            "questions": r.question_scores(),
            "seconds": r.timings.get("execution_s"),
        }
        for r in sorted(results, key=lambda r: r.student)
    ]
    check_rates: list[dict[str, Any]] = []
    for check in spec.checks:
        if check.kind == "manual":
            continue
        outcomes = [c for r in results for c in r.checks if c.name == check.id]
        total = len(outcomes)
        mean = sum(c.points for c in outcomes) / total if total else 0.0
        check_rates.append(
            {
                "title": check.title,
                "question": check.question,
                "passed": sum(c.status == "passed" for c in outcomes),
                "partial": sum(c.status == "partial" for c in outcomes),
                "total": total,
                "mean": mean,
                "max_points": check.points,
                "percent": round(100 * mean / check.points) if check.points else 0,
            }
        )
    question_keys = [q for q in QUESTIONS if any(c.question == q for c in spec.checks)]
    return (
        _environment()
        .get_template("class_index.html.j2")
        .render(
            title=spec.assignment.title,
            generated=_now(),
            spec_label=f"{spec.assignment.id} v{spec.assignment.version}",
            secret=secret,
            unisolated=[
                r.student
                for r in results
                if r.environment.get("isolated") is False and not r.environment.get("self_check")
            ],
            students=students,
            crashed=[
                {"student": r.student, "title": c.title, "message": c.message}
                for r in sorted(results, key=lambda r: r.student)
                for c in r.checks
                if c.status == "error"
            ],
            auto_max=spec.auto_max,
            stats={
                "mean": statistics.fmean(auto_scores) if auto_scores else 0.0,
                "median": statistics.median(auto_scores) if auto_scores else 0.0,
                "statuses": dict(Counter(r.status for r in results).most_common()),
            },
            histogram_svg=histogram_svg(auto_scores, spec.auto_max),
            question_keys=question_keys,
            question_labels=[q if q != "general" else "Gen." for q in question_keys],
            check_rates=check_rates,
            written=_written_progress(results, spec),
            leaderboard=_leaderboard(results),
        )
    )


def _leaderboard(results: Sequence[StudentResult]) -> list[dict[str, Any]]:
    """The class leaderboard with real names and links (grader/outputs/leaderboard.py)."""
    from grader.outputs.leaderboard import leaderboard_rows

    rows = leaderboard_rows(results, names="real")
    for row in rows:
        row["link"] = f"students/{row['student']}/report.html"
    return rows


def _written_progress(results: Sequence[StudentResult], spec: AssignmentSpec) -> list[dict]:
    """Hand-graded answers per question, graded of the class (the grading desk's progress)."""
    rows = []
    for check in spec.checks:
        if check.kind != "manual":
            continue
        outcomes = [c for r in results for c in r.checks if c.name == check.id]
        graded = sum(c.status != "manual" for c in outcomes)
        total = len(outcomes)
        rows.append(
            {
                "question": check.question,
                "graded": graded,
                "total": total,
                "percent": round(100 * graded / total) if total else 0,
            }
        )
    return rows
