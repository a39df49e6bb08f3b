"""The per-student figures, rendered where the measurements are.

Figures are drawn in the grading job and stored as PNG data URIs with the result,
so a report can be re-rendered from the gradebook without the hidden data or the
models. A figure that fails to draw is left out with a note; it never costs points.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from grader.harvest.validate import Harvest
from grader.score.measure import Scores
from grader.spec import AssignmentSpec

TOP_FILTERS_SHOWN = 4


def _safe(name: str, draw: Callable[[], Any], figures: dict[str, str], notes: list[str]) -> None:
    from reference import plots

    try:
        figures[name] = plots.figure_to_data_uri(draw())
    except Exception as exc:
        notes.append(f"The {name.replace('_', ' ')} figure could not be drawn ({exc}).")


def student_figures(
    harvest: Harvest, scores: Scores, spec: AssignmentSpec, kernel_expectations: list[dict]
) -> tuple[dict[str, str], list[str]]:
    """All report figures for one student, as data URIs, plus notes on any left out."""
    from reference import plots

    figures: dict[str, str] = {}
    notes: list[str] = []
    main = scores.main
    if main is not None:
        _safe(
            "roc",
            lambda: plots.roc_pr_figure(
                main.labels, main.predictions, main.oracle_scores, title="Hidden data"
            ),
            figures,
            notes,
        )
        if main.motifs is not None and len(main.motifs.matches):
            order = np.argsort(-main.motifs.similarities)[:TOP_FILTERS_SHOWN]
            pwms = [main.motifs.pwms[i] for i in order]
            titles = [
                f"filter {i}: similarity {main.motifs.matches[i].similarity:.2f}" for i in order
            ]
            _safe(
                "logos",
                lambda: plots.logo_figure(pwms, titles, motif=spec.data.motif),
                figures,
                notes,
            )
    history = harvest.value("history")
    if history.ok:
        _safe("loss", lambda: plots.loss_figure(history.value), figures, notes)
    kernel = harvest.value("kernel_results")
    if kernel.ok:
        reported = [{"kernel_size": w, **r} for w, r in kernel.value.items()]
        oracle = main.oracle.roc_auc if main is not None else None
        _safe(
            "kernel_sweep",
            lambda: plots.kernel_sweep_figure(
                kernel_expectations, len(spec.data.motif), reported=reported, oracle_roc_auc=oracle
            ),
            figures,
            notes,
        )
    noise = harvest.value("noise_results")
    if noise.ok:
        _safe("noise", lambda: plots.noise_sweep_figure(noise.value), figures, notes)
    multi = scores.multi
    if multi is not None and multi.similarities is not None:
        _safe(
            "multi_heatmap",
            lambda: plots.similarity_heatmap_figure(
                multi.similarities, list(multi.motifs), multi.assignment
            ),
            figures,
            notes,
        )
    interaction = scores.interaction
    if interaction is not None and len(interaction.mean_scores) == 4:
        _safe(
            "interaction",
            lambda: plots.interaction_figure(interaction.mean_scores, interaction.rule),
            figures,
            notes,
        )
    # Mutation maps of `model` (grader/score/stress.py).
    from grader.score.stress import stress_figures

    stress_figures_, stress_notes = stress_figures(scores, spec)
    figures.update(stress_figures_)
    notes.extend(stress_notes)
    return figures, notes
