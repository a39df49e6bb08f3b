"""Grade a whole folder: discover, run jobs in parallel, record and write every output.

The coordinator hands each submission to a worker (a local process pool by default,
or an existing Dask cluster) and is the only writer of the gradebook and the output
folder. Each finished grade is stored at once, so a killed run loses nothing
finished, and a re-run executes only submissions whose grade key changed. One bad
submission never stops the batch: a job whose worker fails is retried once as an
infrastructure failure, and if it keeps failing the student still gets a report.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from grader.checks.registry import unrunnable_results
from grader.checks.results import StudentResult
from grader.grade import GRADER_VERSION, GradedSubmission, GradingOptions, grade_submission
from grader.gradebook.store import Gradebook, GradeKey, seed_identity
from grader.intake.discover import Submission, discover_submissions
from grader.outputs.exports import canvas_csv, grades_csv, results_json, with_manual_points
from grader.outputs.report import render_index, render_student_report, write_kernel_log
from grader.run.isolation import (
    IsolationRefused,
    IsolationVerdict,
    ProtectedPaths,
    check_workers,
    require_isolation,
)
from grader.run.processes import adopt_orphans
from grader.spec import DEFAULT_SPEC_PATH, AssignmentSpec, SeedInfo, load_spec, resolve_seed

ProgressCallback = Callable[[StudentResult], None]
JobFunction = Callable[..., GradedSubmission]
GRADEBOOK_NAME = "gradebook.sqlite"
RUN_LOG_NAME = "grader.log"

log = logging.getLogger(__name__)


@contextmanager
def run_log(out_dir: Path) -> Iterator[Path]:
    """Everything the grader logs during one run, in OUT/grader.log (a fresh file per run).

    The instructor reads it to find the grader's own failures: infrastructure errors and
    checks that crashed, each with its traceback. Students never see it.
    """
    path = Path(out_dir) / RUN_LOG_NAME
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("grader")
    level = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield path
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.close()


def log_crashed_checks(result: StudentResult) -> None:
    """Checks run in workers: their crashes are logged here, in the coordinator's log."""
    for check in result.checks:
        if check.status == "error":
            log.error(
                "%s: check %s crashed: %s\n%s",
                result.student,
                check.name,
                check.message,
                check.traceback.rstrip() or "(no traceback recorded)",
            )


@dataclass(frozen=True)
class BatchSummary:
    """What a grading run produced, for the CLI's closing summary."""

    out_dir: Path
    results: tuple[StudentResult, ...]
    seconds: float
    seed_kind: str
    workers: int
    graded: int = 0
    reused: int = 0
    isolation: str = ""
    """The measured isolation of this run (`IsolationVerdict.summary`)."""
    isolated: bool = True

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


def kernel_expectation_rows() -> list[dict]:
    """The reference's measured AUC per kernel width (shown beside students' values)."""
    from reference.expectations import kernel_sweep_expectations

    return kernel_sweep_expectations()


def kernel_reference() -> dict[str, float]:
    return {str(row["kernel_size"]): row["roc_auc"] for row in kernel_expectation_rows()}


def _summary_only(result: StudentResult) -> StudentResult:
    """The result without figures: what the coordinator keeps once the report is written."""
    return replace(result, figures={})


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
    write_kernel_log(folder, result)
    (folder / "results.json").write_text(
        results_json(result, leaderboard=spec.leaderboard.names != "off"), encoding="utf-8"
    )
    if graded.executed_notebook:
        (folder / "executed.ipynb").write_bytes(graded.executed_notebook)
    return result


def write_class_outputs(
    out_dir: Path, results: Iterable[StudentResult], spec: AssignmentSpec, *, secret: bool
) -> None:
    """index.html, grades.csv and canvas.csv for the whole class."""
    results = list(results)
    (out_dir / "index.html").write_text(
        render_index(results, spec, secret=secret), encoding="utf-8"
    )
    (out_dir / "grades.csv").write_text(grades_csv(results, spec), encoding="utf-8")
    (out_dir / "canvas.csv").write_text(canvas_csv(results, spec), encoding="utf-8")


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
        ),
        extra={"infrastructure_failure": True},
    )


class RestartingPool(Executor):
    """A process pool that replaces itself when a worker process dies.

    A dead worker breaks a `ProcessPoolExecutor` for good: every pending future
    fails with BrokenProcessPool. The failed jobs are retried by `run_jobs`; this
    pool makes sure the retry lands on fresh workers. Workers are spawned, not
    forked, so no state leaks from the coordinator into a job.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool = self._new()

    def _new(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            # A pool worker runs one job at a time, so it can adopt a job's orphans.
            initializer=adopt_orphans,
        )

    def submit(self, fn, /, *args, **kwargs) -> Future:  # type: ignore[override]
        try:
            return self._pool.submit(fn, *args, **kwargs)
        except BrokenProcessPool:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new()
            return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def local_pool(workers: int) -> Executor:
    return RestartingPool(workers)


def run_jobs(
    submissions: list[Submission],
    spec: AssignmentSpec,
    seed: SeedInfo,
    options: GradingOptions,
    executor: Executor,
    on_result: Callable[[Submission, GradedSubmission], None],
    *,
    job: JobFunction = grade_submission,
    retries: int = 2,
) -> None:
    """Grade every submission on `executor`, handing each result over as it finishes.

    An exception from a job is never the student's doing (`grade_submission` turns
    every student failure into a result), so it is retried: a worker died or was lost.
    A dead local worker fails every job that pool was running, not only its own, so
    each job gets more than one retry.
    """
    expectations = kernel_expectation_rows()
    attempts: dict[str, int] = {}
    refused: list[str] = []

    def submit(submission: Submission) -> Future:
        return executor.submit(job, submission, spec, seed, options, expectations)

    pending: dict[Future, Submission] = {submit(s): s for s in submissions}
    while pending:
        future = next(as_completed(list(pending)))
        submission = pending.pop(future)
        try:
            graded = future.result()
        except IsolationRefused as exc:
            # A worker that cannot isolate grades nothing; nothing is recorded for it.
            log.error("%s: a worker refused to grade unisolated: %s", submission.student, exc)
            refused.append(str(exc))
            continue
        except Exception as exc:
            attempts[submission.student] = attempts.get(submission.student, 0) + 1
            if attempts[submission.student] <= retries:
                log.warning(
                    "%s: grading job failed (attempt %d), retrying",
                    submission.student,
                    attempts[submission.student],
                    exc_info=exc,
                )
                try:
                    pending[submit(submission)] = submission
                    continue
                except Exception:
                    log.exception("%s: the job could not be resubmitted", submission.student)
            log.error(
                "%s: grading job failed for good; recorded as an infrastructure failure",
                submission.student,
                exc_info=exc,
            )
            graded = infrastructure_failure(submission, spec, f"{type(exc).__name__}: {exc}")
        on_result(submission, graded)
    if refused:
        reasons = "\n".join(dict.fromkeys(refused))
        raise IsolationRefused(
            f"{len(refused)} submission(s) were not graded because a worker refused to run "
            f"them unisolated:\n{reasons}"
        )


def grade_key(submission: Submission, spec: AssignmentSpec, seed: SeedInfo) -> GradeKey:
    return GradeKey(
        student=submission.student,
        submission_hash=submission.content_hash,
        spec_fingerprint=spec.fingerprint,
        grader_version=GRADER_VERSION,
        seed_id=seed_identity(seed.material),
    )


def _executor_for(
    scheduler: str | None, workers: int, options: GradingOptions
) -> tuple[Executor, Callable[[], None]]:
    """A local process pool, or an executor on an existing Dask cluster whose every
    worker has measured its own isolation (else `IsolationRefused`, naming the worker)."""
    if scheduler is None:
        pool = local_pool(workers)
        return pool, lambda: pool.shutdown(wait=True, cancel_futures=True)
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "--scheduler needs dask.distributed: pip install 'motifgrader[dask]'"
        ) from exc
    client = Client(scheduler, timeout=30)
    try:
        check_workers(
            client,
            options.sandbox,
            options.protected,
            allow_unisolated=options.allow_unisolated,
        )
    except BaseException:
        client.close()
        raise
    return client.get_executor(pure=False), client.close


def check_isolation(
    submissions_path: Path | str,
    out: Path,
    gradebook_path: Path,
    *,
    spec_path: Path | str | None,
    secret_file: Path | str | None,
    sandbox: str,
    allow_unisolated: bool,
    scheduler: str | None,
) -> tuple[GradingOptions, IsolationVerdict | None]:
    """Measure, before anything runs, that student code will be isolated on this machine.

    With a scheduler the workers measure themselves (in `_executor_for` and before each
    job), since this machine is not where the kernels run.
    """
    protected = ProtectedPaths.for_run(
        secret_file=secret_file,
        submissions=submissions_path,
        out_dir=out,
        gradebook=gradebook_path,
        spec_file=spec_path or DEFAULT_SPEC_PATH,
    )
    options = GradingOptions(
        sandbox=sandbox, protected=protected, allow_unisolated=allow_unisolated
    )
    if scheduler is not None:
        return options, None
    verdict = require_isolation(sandbox, protected, allow_unisolated=allow_unisolated)
    return options, verdict


def grade_folder(
    submissions_path: Path | str,
    out_dir: Path | str,
    *,
    spec_path: Path | str | None = None,
    secret_file: Path | str | None = None,
    workers: int | None = None,
    only: Iterable[str] | None = None,
    sandbox: str = "auto",
    scheduler: str | None = None,
    executor: Executor | None = None,
    force: bool = False,
    gradebook_path: Path | str | None = None,
    job: JobFunction = grade_submission,
    on_result: ProgressCallback | None = None,
    on_start: Callable[[int], None] | None = None,
    allow_unisolated: bool = False,
) -> BatchSummary:
    """Grade every submission under `submissions_path` into `out_dir`.

    Grades already in the gradebook under the same key are re-used (not executed
    again) unless `force`. Returns when every submission has a result. Raises
    `IsolationRefused` before running anything when student code would not be isolated,
    unless `allow_unisolated` (the instructor's explicit opt-out, shown on every output).
    """
    started = time.monotonic()
    spec = load_spec(spec_path)
    seed = resolve_seed(spec, secret_file)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # Every infrastructure error and crashed check of this run, with its traceback.
    with run_log(out):
        submissions = discover_submissions(submissions_path)
        if only:
            wanted = set(only)
            submissions = [s for s in submissions if s.student in wanted]
        n_workers = workers or default_workers(spec)
        book_path = Path(gradebook_path) if gradebook_path else out / GRADEBOOK_NAME
        options, verdict = check_isolation(
            submissions_path,
            out,
            book_path,
            spec_path=spec_path,
            secret_file=secret_file,
            sandbox=sandbox,
            allow_unisolated=allow_unisolated,
            scheduler=scheduler if executor is None else None,
        )
        isolation = verdict.summary if verdict else "measured by each worker"
        run_isolated = verdict is None or verdict.isolated
        cluster: tuple[Executor, Callable[[], None]] | None = None
        if executor is None and scheduler is not None:
            # Every worker measures its isolation before the gradebook is touched.
            cluster = _executor_for(scheduler, n_workers, options)
        gradebook = Gradebook(book_path)
        results: list[StudentResult] = []
        try:
            manual = gradebook.manual()
            for submission in submissions:
                if submission.pdf_bytes:
                    gradebook.store_pdf(
                        submission.student,
                        submission.content_hash,
                        submission.pdf_name,
                        submission.pdf_bytes,
                    )
            run_id = gradebook.start_run(
                submissions=str(submissions_path),
                spec_fingerprint=spec.fingerprint,
                grader_version=GRADER_VERSION,
                seed_kind=seed.kind,
                workers=n_workers,
                scheduler=scheduler,
                isolation=isolation,
            )
            if on_start is not None:
                on_start(len(submissions))
            todo: list[Submission] = []
            for submission in submissions:
                stored = None if force else gradebook.find(grade_key(submission, spec, seed))
                if stored is not None and run_isolated and not _graded_isolated(stored.result):
                    stored = None  # a grade made without isolation is never carried over
                if stored is None:
                    todo.append(submission)
                    continue
                gradebook.mark_current(stored.key)
                graded = GradedSubmission(stored.result, stored.executed_notebook)
                result = write_student_outputs(out, graded, spec, manual.get(submission.student))
                results.append(_summary_only(result))
                if on_result is not None:
                    on_result(result)

            def collect(submission: Submission, graded: GradedSubmission) -> None:
                log_crashed_checks(graded.result)
                if not graded.extra.get("infrastructure_failure"):
                    gradebook.record(
                        grade_key(submission, spec, seed),
                        graded.result,
                        graded.executed_notebook,
                        run_id,
                    )
                result = write_student_outputs(out, graded, spec, manual.get(submission.student))
                results.append(_summary_only(result))
                if on_result is not None:
                    on_result(result)

            if todo:
                if executor is not None:
                    run_jobs(todo, spec, seed, options, executor, collect, job=job)
                else:
                    pool, close = cluster or _executor_for(None, min(n_workers, len(todo)), options)
                    cluster = None
                    try:
                        run_jobs(todo, spec, seed, options, pool, collect, job=job)
                    finally:
                        close()
            gradebook.finish_run(run_id, graded=len(todo), reused=len(submissions) - len(todo))
            class_results = [
                with_manual_points(stored.result, manual.get(stored.result.student))
                for stored in gradebook.current_grades(
                    spec.fingerprint, GRADER_VERSION, seed_identity(seed.material), full=False
                )
            ]
        finally:
            gradebook.close()
            if cluster is not None:
                cluster[1]()
        write_class_outputs(out, class_results, spec, secret=seed.is_secret)
        # --- similarity review (grader/integrity): OUT/similarity/, linked from the index ---
        from grader.integrity.run import refresh_after_grade

        refresh_after_grade(out, book_path, spec)
        # --- end similarity review ---
        return BatchSummary(
            out,
            tuple(sorted(results, key=lambda r: r.student)),
            time.monotonic() - started,
            seed.kind,
            n_workers,
            graded=len(todo),
            reused=len(submissions) - len(todo),
            isolation=isolation,
            isolated=run_isolated,
        )


def _graded_isolated(result: StudentResult) -> bool:
    """False only for a grade whose kernel ran without isolation (the opt-out)."""
    return result.environment.get("isolated", True) is not False


def rerender(
    out_dir: Path | str,
    *,
    spec_path: Path | str | None = None,
    secret_file: Path | str | None = None,
    gradebook_path: Path | str | None = None,
) -> list[StudentResult]:
    """Re-write every report and export from the gradebook, executing nothing.

    Used after hand grades are imported or templates change. It shows the grades
    made with the same spec and seed as `grade` would use now.
    """
    spec = load_spec(spec_path)
    seed = resolve_seed(spec, secret_file)
    out = Path(out_dir)
    path = Path(gradebook_path) if gradebook_path else out / GRADEBOOK_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no gradebook at {path}: run `motifgrader grade` first")
    with Gradebook(path) as gradebook:
        manual = gradebook.manual()
        stored = gradebook.current_grades(spec.fingerprint, seed_id=seed_identity(seed.material))
    results = [
        write_student_outputs(
            out,
            GradedSubmission(grade.result, grade.executed_notebook),
            spec,
            manual.get(grade.result.student),
        )
        for grade in stored
    ]
    write_class_outputs(out, results, spec, secret=seed.is_secret)
    return results
