"""A graded class for the grading desk's tests and benchmark, made without notebooks.

Each student gets a stored grade as `motifgrader grade` would write it (every check
of the spec, written answers, figures from the report's own plotting code), and one
student a PDF report, so the desk sees what it sees after a real run, in a second.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from grader.batch import GRADEBOOK_NAME, rerender
from grader.checks.results import CheckResult, StudentResult
from grader.grade import GRADER_VERSION
from grader.gradebook.store import Gradebook, GradeKey, seed_identity
from grader.spec import AssignmentSpec, load_spec, resolve_seed

NAMES = (
    "ada", "bea", "cai", "dev", "eli", "fay", "gus", "hal", "ivy", "jon",
    "kim", "lou", "max", "ned", "ola", "pia", "quin", "rex", "sam", "tao",
)  # fmt: skip
PDF_STUDENT = "bea"
HOSTILE_STUDENT = "cai"
HOSTILE_ANSWER = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"> 913'


def student_names(count: int) -> list[str]:
    return list(NAMES[:count]) if count <= len(NAMES) else [f"s{i:03d}" for i in range(count)]


def answers_for(index: int, student: str) -> dict[str, str]:
    answers = {
        "Q1": (
            f"The model has **{913 + index} parameters**: the Conv1D has (5 × 4 + 1) × 16 = 336,"
            " the dense layers 544 and 33.\n\n- hyper-parameters: filters, kernel width, units"
        ),
        "Q2": f"Kernel 3 reached ROC AUC 0.8{index % 10}; kernels of 8 and more reach 0.93.",
        "Q3": "Filter 4 spells `ACGTG`; its logo matches the motif.",
        "Q4": "With motif_prob 0.5 the AUC falls to 0.72, close to the oracle's 0.727.",
        "Q5": "Two filters specialise, one per motif.",
        "Q6": "" if index % 4 == 3 else "The AND model only fires when both motifs are present.",
    }
    if student == HOSTILE_STUDENT:
        answers["Q1"] = HOSTILE_ANSWER
    return answers


def _figures() -> dict[str, str]:
    """Two real report figures, drawn once and shared by every student."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    from reference import plots

    sweep = [
        {"kernel_size": w, "roc_auc": a, "pr_auc": a - 0.02} for w, a in ((3, 0.84), (11, 0.93))
    ]
    return {
        "kernel_sweep": plots.figure_to_data_uri(plots.kernel_sweep_figure(sweep, 5)),
        "loss": plots.figure_to_data_uri(
            plots.loss_figure({"loss": [0.69, 0.45, 0.33], "val_loss": [0.66, 0.47, 0.36]})
        ),
    }


def _result(spec: AssignmentSpec, student: str, index: int, figures: dict[str, str]):
    checks = []
    for check in spec.checks:
        if check.kind == "manual":
            checks.append(
                CheckResult(
                    check.id, check.title, check.question, 0.0, check.points, "manual",
                    "Graded by hand.", check.visibility, "manual",
                )
            )  # fmt: skip
            continue
        fraction = 1.0 if (index + len(check.id)) % 3 else 0.5
        checks.append(
            CheckResult(
                check.id, check.title, check.question, check.points * fraction, check.points,
                "passed" if fraction == 1 else "partial",
                f"Measured on {student}'s model: {fraction:.0%} of the points.",
                check.visibility, "auto",
                {"total": 913 + index, "measured_roc_auc": 0.9 + index / 1000, "layers": []},
            )
        )  # fmt: skip
    return StudentResult(
        student=student,
        status="ok",
        status_message="The notebook ran from top to bottom without errors.",
        checks=tuple(checks),
        submission_hash=f"{index:064x}",
        notebook_name=f"{student}_hw4.ipynb",
        figures=figures,
        details={"answers": answers_for(index, student)},
        environment={"seed_kind": "development", "seed_note": "development seed (test class)"},
        timings={"execution_s": 19.0},
    )


def pdf_report(pages: dict[int, str]) -> bytes:
    """A PDF whose page i holds the text pages[i] (real text, extractable)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    buffer = io.BytesIO()
    with (
        matplotlib.rc_context({"pdf.fonttype": 42}),
        PdfPages(buffer) as pdf,
    ):
        for index in range(max(pages) + 1):
            figure = plt.figure(figsize=(8.27, 11.69))
            figure.text(0.08, 0.92, pages.get(index, ""), va="top", fontsize=14, wrap=True)
            pdf.savefig(figure)
            plt.close(figure)
    return buffer.getvalue()


PDF_PAGES = {
    0: "Homework 4 report\nIntroduction and setup",
    1: "Q1: the model has 913 parameters.\nConv1D 336, dense 544 and 33.",
    2: "Q2: wider kernels than the motif do better.",
}


def build_class(
    folder: Path, count: int = 20, *, with_pdf: bool = True, reports: bool = True
) -> Path:
    """A graded class of `count` students in `folder` (the `--out` of `grade`)."""
    spec = load_spec()
    seed = resolve_seed(spec)
    folder.mkdir(parents=True, exist_ok=True)
    figures = _figures()
    with Gradebook(folder / GRADEBOOK_NAME) as gradebook:
        run_id = gradebook.start_run(
            submissions="synthetic class",
            spec_fingerprint=spec.fingerprint,
            grader_version=GRADER_VERSION,
            seed_kind=seed.kind,
            workers=1,
        )
        for index, student in enumerate(student_names(count)):
            result = _result(spec, student, index, figures)
            key = GradeKey(
                student,
                result.submission_hash,
                spec.fingerprint,
                GRADER_VERSION,
                seed_identity(seed.material),
            )
            gradebook.record(key, result, b"", run_id)
            if with_pdf and student == PDF_STUDENT:
                gradebook.store_pdf(
                    student, result.submission_hash, "bea_report.pdf", pdf_report(PDF_PAGES)
                )
        gradebook.finish_run(run_id, graded=count, reused=0)
    if reports:
        rerender(folder)
    return folder
