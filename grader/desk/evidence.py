"""What a student's own run showed for a question, to put beside their written answer.

The numbers come from the automatic checks of the same question (what the grader
measured on their model) and the figures their run produced; nothing is measured here.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from grader.checks.results import StudentResult

# Figures in the report, by the question whose answer they support.
QUESTION_FIGURES: dict[str, tuple[tuple[str, str], ...]] = {
    "Q2": (
        ("kernel_sweep", "Their kernel-size sweep beside the reference's"),
        ("roc", "Their model on the hidden data against the oracle"),
        ("loss", "Their training curves"),
    ),
    "Q3": (("logos", "The implanted motif and their filters most similar to it"),),
    "Q4": (("noise", "Their noise experiment"),),
    "Q5": (("multi_heatmap", "Similarity of each multi_model filter to each of their motifs"),),
    "Q6": (("interaction", "Mean output of their interaction_model with none, one or both"),),
}
MAX_NUMBERS = 12


@dataclass(frozen=True)
class CheckEvidence:
    title: str
    points: float
    max_points: float
    status: str
    message: str
    numbers: tuple[tuple[str, str], ...]


def _flatten(value: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, str]]:
    """Scalar entries of a check's evidence as ("a.b", "0.912") pairs, shallow first."""
    if isinstance(value, bool):
        return [(prefix, "yes" if value else "no")]
    if isinstance(value, int | float):
        return [(prefix, f"{value:.4g}" if isinstance(value, float) else str(value))]
    if isinstance(value, str):
        return [(prefix, value[:80])] if len(value) <= 80 else []
    if isinstance(value, dict) and depth < 2:
        pairs: list[tuple[str, str]] = []
        for key, item in value.items():
            pairs.extend(_flatten(item, f"{prefix}.{key}" if prefix else str(key), depth + 1))
        return pairs
    return []


def question_evidence(result: StudentResult, question: str) -> list[CheckEvidence]:
    """The automatic checks of `question` with their measured numbers."""
    return [
        CheckEvidence(
            c.title,
            c.points,
            c.max_points,
            c.status,
            c.message,
            tuple(_flatten(c.evidence)[:MAX_NUMBERS]),
        )
        for c in result.checks
        if c.question == question and c.kind != "manual"
    ]


def question_figures(figures: dict[str, str], question: str) -> list[tuple[str, str]]:
    """(figure name, caption) of the student's figures that belong to `question`."""
    return [
        (name, caption) for name, caption in QUESTION_FIGURES.get(question, ()) if figures.get(name)
    ]


def decode_figure(uri: str) -> tuple[str, bytes] | None:
    """(media type, bytes) of a base64 image data URI, or None for anything else."""
    head, _, payload = uri.partition(",")
    if not head.startswith("data:image/") or not head.endswith(";base64"):
        return None
    media_type = head[len("data:") : -len(";base64")]
    # Raster images only: an SVG served from the desk's own origin could carry script.
    if media_type not in ("image/png", "image/jpeg", "image/webp"):
        return None
    try:
        return media_type, base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None
