"""Grade one submission end to end: execute, harvest, score, check, draw.

`grade_submission` is the unit of work that a local pool or a Dask worker runs. It
takes plain data (the notebook's bytes, the spec, the seed) and returns plain data
(a `GradedSubmission`), writes only inside its own temporary job folder, and
removes that folder when done. It never raises for anything a student did.
"""

from __future__ import annotations

import platform
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import nbformat

from grader.checks.functions import (
    ENCODER_PROBE,
    GOLDEN_GENERATOR_ARGS,
    PWM_PROBE,
    UNKNOWN_BASE_PROBE,
)
from grader.checks.registry import (
    CheckContext,
    run_check,
    run_checks,
    unrunnable_results,
)
from grader.checks.results import STATUS_EXPLANATIONS, StudentResult
from grader.harvest.answers import extract_answers
from grader.harvest.steps import Probe, harvest_folder, harvest_steps, kernel_seed, preamble_step
from grader.harvest.validate import Harvest, read_harvest
from grader.intake.discover import Submission
from grader.intake.notebook_file import NotebookUnreadable, read_notebook
from grader.integrity.artefacts import model_fingerprint
from grader.outputs.figures import student_figures
from grader.outputs.leaderboard import benchmark_details
from grader.run import detect, wrap
from grader.run.isolation import ProtectedPaths, ensure_worker_isolated
from grader.run.session import ExecutionSettings, execute_notebook
from grader.score.hidden_data import probe_dataset_arguments
from grader.score.measure import Scores, score_submission
from grader.spec import AssignmentSpec, SeedInfo
from grader.terminal import captured_kernel_stderr

GRADER_VERSION = "0.1.0"
MAX_EXECUTED_NOTEBOOK_BYTES = 20_000_000


@dataclass(frozen=True)
class GradingOptions:
    """How to grade, beyond the spec: sandbox choice, hidden checks, where jobs live."""

    sandbox: str = "auto"
    include_hidden: bool = True
    work_root: str | None = None
    keep_job: bool = False
    protected: ProtectedPaths = field(default_factory=ProtectedPaths)
    """What the run's kernels must neither read nor change (checked before each job)."""
    allow_unisolated: bool = False
    """The instructor's explicit opt-out: grade even where isolation fails, and say so."""


@dataclass
class GradedSubmission:
    """The result of one job: what the coordinator stores, reports and exports."""

    result: StudentResult
    executed_notebook: bytes = b""
    extra: dict[str, Any] = field(default_factory=dict)


def execution_settings(spec: AssignmentSpec, options: GradingOptions) -> ExecutionSettings:
    limits = spec.limits
    return ExecutionSettings(
        cell_timeout_s=limits.cell_timeout_s,
        notebook_timeout_s=limits.notebook_timeout_s,
        kernel_start_timeout_s=limits.kernel_start_timeout_s,
        output_bytes=limits.output_bytes,
        single_output_bytes=limits.single_output_bytes,
        memory_bytes=limits.memory_mb * 2**20,
        threads=limits.threads_per_kernel,
        file_size_bytes=limits.file_size_mb * 2**20,
        files_written=limits.files_written,
        max_processes=limits.max_processes,
        interrupt_answer_timeout_s=limits.interrupt_answer_timeout_s,
        open_files=limits.open_files,
        sandbox=options.sandbox,
        hidden_paths=options.protected.read,
    )


def probes_for(seed: SeedInfo) -> list[Probe]:
    """The calls the grader makes to the student's functions."""
    return [
        Probe(
            "generator_golden", "generate_synthetic_dataset", (), GOLDEN_GENERATOR_ARGS, "dataset"
        ),
        Probe(
            "generator_probe",
            "generate_synthetic_dataset",
            (),
            probe_dataset_arguments(seed),
            "dataset",
        ),
        Probe("encode_acgt", "one_hot_encode_seqs", (ENCODER_PROBE,), {}, "array"),
        Probe("encode_unknown", "one_hot_encode_seqs", (UNKNOWN_BASE_PROBE,), {}, "array"),
        Probe("pwm", "build_pwm", (PWM_PROBE,), {}, "array"),
        Probe(
            "build_model",
            "build_deepbind_like_model",
            (101,),
            {"num_filters": 16, "kernel_size": 5},
            "model",
        ),
    ]


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "motifgrader": GRADER_VERSION}
    for package in (
        "numpy",
        "scikit-learn",
        "tensorflow-cpu",
        "tensorflow",
        "keras",
        "nbclient",
        "ipykernel",
    ):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _environment(spec: AssignmentSpec, seed: SeedInfo, sandbox_detail: str) -> dict[str, Any]:
    return {
        "seed_kind": seed.kind,
        "seed_note": (
            "Graded on hidden data drawn with the instructor's secret seed."
            if seed.is_secret
            else "Development seed: no secret was given, so the 'hidden' data is reproducible "
            "by anyone. Do not use these grades as final."
        ),
        "spec": f"{spec.assignment.id} v{spec.assignment.version} ({spec.fingerprint})",
        "sandbox": sandbox_detail,
        "versions": _versions(),
        "platform": platform.platform(terse=True),
    }


def _unrunnable(
    submission: Submission,
    spec: AssignmentSpec,
    seed: SeedInfo,
    status: str,
    message: str,
    sandbox_detail: str = "",
) -> GradedSubmission:
    result = StudentResult(
        student=submission.student,
        status=status,  # type: ignore[arg-type]
        status_message=message,
        checks=unrunnable_results(spec, message),
        environment=_environment(spec, seed, sandbox_detail),
        submission_hash=submission.content_hash if submission.notebook_bytes else "",
        notebook_name=submission.notebook_name,
    )
    return GradedSubmission(result)


def _cap_notebook(notebook: Any) -> bytes:
    data = nbformat.writes(notebook).encode("utf-8")
    if len(data) <= MAX_EXECUTED_NOTEBOOK_BYTES:
        return data
    for cell in notebook.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = [
                o for o in cell.get("outputs", []) if o.get("output_type") == "error"
            ]
    return nbformat.writes(notebook).encode("utf-8")


def grade_submission(
    submission: Submission,
    spec: AssignmentSpec,
    seed: SeedInfo,
    options: GradingOptions | None = None,
    kernel_expectations: list[dict] | None = None,
) -> GradedSubmission:
    """Grade one submission. Every failure a student can cause ends in a result."""
    options = options or GradingOptions()
    if not submission.runnable:
        return _unrunnable(submission, spec, seed, submission.problem_status, submission.problem)
    try:
        notebook, notes = read_notebook(submission.notebook_bytes)
    except NotebookUnreadable as exc:
        return _unrunnable(submission, spec, seed, "invalid", str(exc))
    if not any(
        c.get("cell_type") == "code" and c.get("source", "").strip() for c in notebook.cells
    ):
        graded = _unrunnable(
            submission, spec, seed, "invalid", "The notebook has no code cells to run."
        )
        answers = extract_answers(notebook)
        ctx_harvest = Harvest(ran=False, answers=answers)
        ctx = CheckContext(
            spec, ctx_harvest, Scores(), "invalid", graded.result.status_message, (), {}
        )
        # Only the hand-graded checks are run again, to show the answers found.
        checks = tuple(
            c if c.kind != "manual" else run_check(spec.check(c.name), ctx)
            for c in graded.result.checks
        )
        graded.result = replace(graded.result, checks=checks)
        return graded

    # Fail closed: this worker measures its own isolation before any student code runs
    # (raises IsolationRefused, which the coordinator reports instead of a grade).
    isolation = ensure_worker_isolated(
        options.sandbox,
        options.protected,
        allow_unisolated=options.allow_unisolated,
        work_root=options.work_root,
    )
    started = time.monotonic()
    job_dir = Path(tempfile.mkdtemp(prefix="mg-", dir=options.work_root))
    try:
        probes = probes_for(seed)
        out_dir = harvest_folder(job_dir)
        settings = execution_settings(spec, options)
        with captured_kernel_stderr() as kernel_log:
            execution = execute_notebook(
                notebook,
                job_dir,
                settings,
                preamble=preamble_step(kernel_seed(spec), spec.limits.threads_per_kernel, notebook),
                steps=harvest_steps(out_dir, probes, spec.limits.harvest_timeout_s),
            )
        executed_at = time.monotonic()
        harvest = read_harvest(
            out_dir if execution.steps.get("values") else None,
            notebook,
            probes,
            spec.data.seq_len,
            spec.limits.harvest_mb * 2**20,
        )
        scores = score_submission(
            harvest,
            spec,
            seed,
            job_dir / "scorer",
            wrap=wrap.scorer_wrapper(
                detect.probe_sandbox(options.sandbox),  # type: ignore[arg-type]
                settings.memory_bytes,
                hidden_paths=[Path(p) for p in options.protected.read],
            ),
        )
        ctx = CheckContext(
            spec=spec,
            harvest=harvest,
            scores=scores,
            execution_status=execution.status,
            execution_message=execution.message,
            cells=tuple(execution.cells),
            probe_arguments=probe_dataset_arguments(seed),
            include_hidden=options.include_hidden,
        )
        checks = run_checks(ctx)
        figures, figure_notes = student_figures(harvest, scores, spec, kernel_expectations or [])
        finished = time.monotonic()
        result = StudentResult(
            student=submission.student,
            status=execution.status,  # type: ignore[arg-type]
            status_message=execution.message or STATUS_EXPLANATIONS[execution.status],
            checks=checks,
            cells=tuple(execution.cells),
            environment={
                **_environment(spec, seed, execution.sandbox),
                "isolated": isolation.isolated,
                "isolation": isolation.summary,
                "self_check": not options.include_hidden,
                "peak_memory_mb": round(execution.peak_memory_bytes / 2**20, 1),
            },
            timings={
                "kernel_start_s": round(execution.kernel_start_seconds, 2),
                "execution_s": round(execution.seconds, 2),
                "scoring_s": round(scores.seconds, 2),
                "total_s": round(finished - started, 2),
                "grader_overhead_s": round(finished - executed_at, 2),
            },
            submission_hash=submission.content_hash,
            notebook_name=submission.notebook_name,
            figures=figures,
            details={
                **_details(harvest, scores),
                "kernel_log": kernel_log.text,
                **benchmark_details(scores, execution.cells, execution.notebook),
            },
            notes=tuple(notes + list(harvest.notes) + figure_notes + _execution_notes(execution)),
        )
        return GradedSubmission(result, _cap_notebook(execution.notebook))
    finally:
        if not options.keep_job:
            shutil.rmtree(job_dir, ignore_errors=True)


def _execution_notes(execution: Any) -> list[str]:
    notes = []
    if execution.output_truncated:
        notes.append("Some outputs were too large and were removed from the executed notebook.")
    failed_steps = {k: v for k, v in execution.steps.items() if v != "ok"}
    if failed_steps:
        notes.append(
            "Some grader steps could not run in your kernel: "
            + ", ".join(f"{k} ({v})" for k, v in failed_steps.items())
        )
    if execution.leftover_processes:
        notes.append(
            f"{execution.leftover_processes} process(es) started by the notebook were still "
            "running at the end and were stopped."
        )
    return notes


def _details(harvest: Harvest, scores: Scores) -> dict[str, Any]:
    """Numbers the report shows in tables (figures carry the rest)."""
    details: dict[str, Any] = {"answers": harvest.answers}
    values = {}
    for name, value in harvest.values.items():
        values[name] = {"present": value.present, "ok": value.ok, "problem": value.problem}
    details["contract"] = values
    # --- similarity review (grader/integrity): the model's compact fingerprint ---
    details["integrity"] = model_fingerprint(scores.models.get("model"))
    # --- end similarity review ---
    details["models"] = {
        name: {"present": m.present, "ok": m.ok, "problem": m.problem}
        for name, m in harvest.models.items()
    }
    # How each model was read (output, column order, length, branches), and why a model's
    # points were withheld: the report can show both beside the checks.
    details["readings"] = dict(scores.readings)
    details["not_earned"] = dict(scores.not_earned)
    if scores.main is not None:
        details["main"] = {
            "roc_auc": scores.main.evaluation.roc_auc,
            "pr_auc": scores.main.evaluation.pr_auc,
            "average_precision": scores.main.evaluation.average_precision,
            "oracle_roc_auc": scores.main.oracle.roc_auc,
            "oracle_pr_auc": scores.main.oracle.pr_auc,
            "n": scores.main.evaluation.n,
        }
    kernel = harvest.value("kernel_results")
    if kernel.ok:
        details["kernel_results"] = {str(k): v for k, v in kernel.value.items()}
    if scores.interaction is not None:
        details["interaction"] = {
            "rule": scores.interaction.rule,
            "motifs": list(scores.interaction.motifs),
            "mean_scores": scores.interaction.mean_scores,
        }
    if scores.multi is not None:
        details["multi"] = {
            "motifs": list(scores.multi.motifs),
            "assignment": scores.multi.assignment,
            "recovered": scores.multi.recovered,
            "responses": scores.multi.responses,
        }
    return details
