"""Report speed: each figure as a PNG, and one student's HTML report (target < 1 s).

Run with `make bench`. Figures are drawn once per student in the grading job; the
report itself is only template rendering over stored results.
"""

import numpy as np
import pytest

from grader.checks.results import CellRecord, CheckResult, StudentResult
from grader.outputs.report import render_student_report
from grader.spec import load_spec
from reference import plots

RNG = np.random.default_rng(7)
LABELS = np.repeat([0, 1], 4000)
ORACLE = (LABELS * (RNG.random(8000) < 0.9) + (RNG.random(8000) < 0.05)).astype(float)
SCORES = 1 / (1 + np.exp(-(ORACLE + RNG.normal(0, 0.7, 8000) - 0.5) * 2))
PWMS = [RNG.dirichlet(np.ones(4) * 0.3, size=11) for _ in range(4)]
FIGURES = {
    "logo": lambda: plots.logo_figure(PWMS, [f"filter {i}" for i in range(4)], motif="ACGTG"),
    "roc": lambda: plots.roc_pr_figure(LABELS, SCORES, ORACLE, title="Hidden data"),
    "loss": lambda: plots.loss_figure({"loss": [0.7, 0.5, 0.4], "val_loss": [0.65, 0.5, 0.45]}),
    "kernel": lambda: plots.kernel_sweep_figure(
        [{"kernel_size": w, "roc_auc": 0.9, "pr_auc": 0.88} for w in (3, 5, 11)], 5
    ),
    "heatmap": lambda: plots.similarity_heatmap_figure(RNG.random((16, 2)), ["GATAAG", "TGACTC"]),
    "interaction": lambda: plots.interaction_figure(
        {"none": 0.05, "A": 0.3, "B": 0.28, "A+B": 0.93}, "and"
    ),
}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_bench_report_figure(benchmark, name):
    make = FIGURES[name]
    plots.figure_to_png_bytes(make())
    assert benchmark(lambda: plots.figure_to_png_bytes(make())).startswith(b"\x89PNG")


def test_bench_student_report_render(benchmark):
    """One student's report.html from a stored result with every figure embedded."""
    spec = load_spec()
    figures = {name: plots.figure_to_data_uri(make()) for name, make in FIGURES.items()}
    checks = tuple(
        CheckResult(
            c.id,
            c.title,
            c.question,
            c.points / 2,
            c.points,
            "partial",
            "message",
            c.visibility,
            c.kind,
            {"value": 1},
        )
        for c in spec.checks
    )
    cells = tuple(CellRecord(i, i + 1, 0.5, "ok", source_head=f"cell {i}") for i in range(40))
    result = StudentResult(
        "ada",
        "ok",
        "ran",
        checks,
        cells,
        {"seed_kind": "secret"},
        {"execution_s": 60.0},
        figures=figures,
        details={"answers": {f"Q{i}": "text " * 200 for i in range(1, 7)}},
    )
    html = benchmark(render_student_report, result, spec)
    benchmark.extra_info["target_s"] = 1.0
    assert "ada" in html
    assert benchmark.stats.stats.median < 1.0
