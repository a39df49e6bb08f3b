"""HTML reports: one per student and a class summary, rendered with Jinja2.

All numbers are computed here or earlier; the templates only lay them out. Reports
are self-contained (figures are data URIs, CSS inline) so they open from disk or as
CI artifacts. Student text is untrusted and always escaped (autoescape is on).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from html import escape
from typing import Any

import jinja2

from grader.resources import templates_dir
from grader.results import StudentResult
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


def fmt(value: float) -> str:
    """Points without trailing zeros: 5, 12.5, 0.75."""
    return f"{value:.2f}".rstrip("0").rstrip(".") if value is not None else "—"


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["fmt"] = fmt
    return env


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_student_report(
    result: StudentResult,
    spec: AssignmentSpec,
    *,
    manual: dict[str, dict] | None = None,
    kernel_reference: dict[str, float] | None = None,
) -> str:
    """One student's report as a self-contained HTML page."""
    questions = []
    per_question = result.question_scores()
    for q in QUESTIONS:
        if q not in per_question:
            continue
        points, maximum = per_question[q]
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
            failed_cells=[c for c in result.cells if c.status in ("error", "timeout")],
            kernel_reference=kernel_reference or {},
        )
    )


def histogram_svg(scores: Sequence[float], maximum: float, bins: int = 10) -> str:
    """A small inline SVG histogram of scores (no JavaScript, no images)."""
    width, height, pad = 640, 180, 28
    counts = [0] * bins
    for score in scores:
        index = min(int(bins * score / maximum), bins - 1) if maximum else 0
        counts[max(index, 0)] += 1
    top = max(counts) or 1
    bar_width = (width - 2 * pad) / bins
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="score histogram">'
    ]
    for i, count in enumerate(counts):
        bar_height = (height - 2 * pad) * count / top
        x = pad + i * bar_width
        y = height - pad - bar_height
        parts.append(
            f'<rect x="{x + 2:.1f}" y="{y:.1f}" width="{bar_width - 4:.1f}" '
            f'height="{bar_height:.1f}" fill="#4c8bf5" rx="3"><title>{count}</title></rect>'
        )
        if count:
            parts.append(
                f'<text x="{x + bar_width / 2:.1f}" y="{y - 4:.1f}" font-size="12" '
                f'text-anchor="middle" fill="#1f2933">{count}</text>'
            )
        label = fmt(maximum * i / bins)
        parts.append(
            f'<text x="{x:.1f}" y="{height - 8}" font-size="11" fill="#616e7c">'
            f"{escape(label)}</text>"
        )
    parts.append(
        f'<text x="{width - pad:.1f}" y="{height - 8}" font-size="11" fill="#616e7c" '
        f'text-anchor="end">{escape(fmt(maximum))}</text>'
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
            students=students,
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
        )
    )
