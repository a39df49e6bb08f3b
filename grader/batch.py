"""Grade a whole folder: discover, run jobs in parallel, write every output.

The coordinator hands each submission to a worker (a local process pool by
default) and is the only writer of the output folder. One bad submission never
stops the batch: a job that crashes is retried once as an infrastructure failure,
and if it fails again the student still gets a report saying so.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from grader.checks import unrunnable_results
from grader.discover import Submission, discover_submissions
from grader.export import grades_csv, results_json, with_manual_points
from grader.pipeline import GradedSubmission, GradingOptions, grade_submission
from grader.report import render_index, render_student_report
from grader.results import StudentResult
from grader.spec import AssignmentSpec, SeedInfo, load_spec, resolve_seed

ProgressCallback = Callable[[StudentResult], None]


@dataclass(frozen=True)
class BatchSummary:
    """What a grading run produced, for the CLI's closing summary."""

    out_dir: Path
    results: tuple[StudentResult, ...]
    seconds: float
    seed_kind: str
    workers: int

    @property
    def index_path(self) -> Path:
        return self.out_dir / "index.html"


def default_workers(spec: AssignmentSpec) -> int:
    """As many kernels as the cores and the memory limit per kernel allow."""
    cores = os.cpu_count() or 1
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 2**30
    by_memory = max(1, int(total * 0.8 // (spec.limits.memory_mb * 2**20)))
    by_cores = max(1, cores // spec.limits.threads_per_kernel)
    return max(1, min(by_cores, by_memory))


def kernel_reference() -> dict[str, float]:
    """The reference's measured ROC AUC per kernel width, shown beside students' values."""
    from reference.expectations import kernel_sweep_expectations

    return {str(row["kernel_size"]): row["roc_auc"] for row in kernel_sweep_expectations()}


def write_student_outputs(
    out_dir: Path,
    graded: GradedSubmission,
    spec: AssignmentSpec,
    manual: dict[str, dict] | None = None,
) -> StudentResult:
    """Write one student's report.html, results.json and executed.ipynb."""
    result = with_manual_points(graded.result, manual)
    folder = out_dir / "students" / result.student
    folder.mkdir(parents=True, exist_ok=True)
    html = render_student_report(result, spec, manual=manual, kernel_reference=kernel_reference())
    (folder / "report.html").write_text(html, encoding="utf-8")
    (folder / "results.json").write_text(results_json(result), encoding="utf-8")
    if graded.executed_notebook:
        (folder / "executed.ipynb").write_bytes(graded.executed_notebook)
    return result


def write_class_outputs(
    out_dir: Path, results: Iterable[StudentResult], spec: AssignmentSpec, *, secret: bool
) -> None:
    results = list(results)
    (out_dir / "index.html").write_text(
        render_index(results, spec, secret=secret), encoding="utf-8"
    )
    (out_dir / "grades.csv").write_text(grades_csv(results, spec), encoding="utf-8")
    (out_dir / "summary.json").write_text(
        json.dumps(
            {
                "assignment": spec.assignment.id,
                "students": {
                    r.student: {"status": r.status, "auto_score": r.auto_score, "score": r.score}
                    for r in results
                },
            },
            indent=2,
        ),
        encoding="utf-8",
    )


def infrastructure_failure(
    submission: Submission, spec: AssignmentSpec, error: str
) -> GradedSubmission:
    """A result for a submission the grader itself could not grade (after a retry)."""
    message = (
        f"The grader failed while grading this submission ({error}). This is not your "
        "fault; your instructor will re-grade it."
    )
    return GradedSubmission(
        StudentResult(
            student=submission.student,
            status="died",
            status_message=message,
            checks=unrunnable_results(spec, message),
            submission_hash=submission.content_hash,
            notebook_name=submission.notebook_name,
        )
    )


def _pool(workers: int) -> Executor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def run_jobs(
    submissions: list[Submission],
    spec: AssignmentSpec,
    seed: SeedInfo,
    options: GradingOptions,
    executor: Executor,
    on_result: Callable[[GradedSubmission], None],
    retries: int = 1,
) -> None:
    """Grade every submission on `executor`; retry a job whose worker failed."""
    expectations = kernel_expectation_rows()
    attempts: dict[str, int] = {}
    pending: dict[Future, Submission] = {
        executor.submit(grade_submission, s, spec, seed, options, expectations): s
        for s in submissions
    }
    while pending:
        for future in as_completed(list(pending)):
            submission = pending.pop(future)
            try:
                graded = future.result()
            except Exception as exc:
                attempts[submission.student] = attempts.get(submission.student, 0) + 1
                if attempts[submission.student] <= retries:
                    try:
                        retry = executor.submit(
                            grade_submission, submission, spec, seed, options, expectations
                        )
                        pending[retry] = submission
                        continue
                    except Exception:
                        pass
                graded = infrastructure_failure(submission, spec, f"{type(exc).__name__}: {exc}")
            on_result(graded)
            break


def kernel_expectation_rows() -> list[dict]:
    from reference.expectations import kernel_sweep_expectations

    return kernel_sweep_expectations()


def grade_folder(
    submissions_path: Path | str,
    out_dir: Path | str,
    *,
    spec_path: Path | str | None = None,
    secret_file: Path | str | None = None,
    workers: int | None = None,
    only: Iterable[str] | None = None,
    sandbox: str = "auto",
    executor: Executor | None = None,
    on_result: ProgressCallback | None = None,
    on_start: Callable[[int], None] | None = None,
) -> BatchSummary:
    """Grade every submission under `submissions_path` into `out_dir`."""
    started = time.monotonic()
    spec = load_spec(spec_path)
    seed = resolve_seed(spec, secret_file)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    submissions = discover_submissions(submissions_path)
    if only:
        wanted = set(only)
        submissions = [s for s in submissions if s.student in wanted]
    options = GradingOptions(sandbox=sandbox)
    n_workers = workers or default_workers(spec)
    results: list[StudentResult] = []

    def collect(graded: GradedSubmission) -> None:
        result = write_student_outputs(out, graded, spec)
        results.append(result)
        if on_result is not None:
            on_result(result)

    if on_start is not None:
        on_start(len(submissions))
    own_executor = executor is None
    pool = executor or _pool(min(n_workers, max(len(submissions), 1)))
    try:
        run_jobs(submissions, spec, seed, options, pool, collect)
    finally:
        if own_executor:
            pool.shutdown(wait=True, cancel_futures=True)
    write_class_outputs(out, results, spec, secret=seed.is_secret)
    return BatchSummary(
        out,
        tuple(sorted(results, key=lambda r: r.student)),
        time.monotonic() - started,
        seed.kind,
        n_workers,
    )
