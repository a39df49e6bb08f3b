"""The `motifgrader` command line: thin wrappers around plain functions.

Each command parses its options and calls one function that the tests call too;
nothing here decides a grade. Exit status: 0 when the grader did its job (whatever
the students' results), 2 for misuse (bad arguments, unreadable spec), and for
`check` 1 when a public check failed.

Misuse is one line on stderr, never a traceback: every command runs its work inside
`misuse_errors()`, which turns a bad spec, a bad path, an unusable gradebook or an
`ArgumentProblem` from `grader.intake.preflight` into `MisuseError` (a ClickException, exit 2).
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from grader.intake.preflight import ArgumentProblem
from grader.spec import SpecError

console = Console(stderr=False)


class MisuseError(click.ClickException):
    """The grader was asked for something it cannot do: one line on stderr, exit status 2."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


# What a command's arguments can cause before or while it works: never a traceback.
MISUSE_ERRORS: tuple[type[BaseException], ...] = (
    SpecError,
    ArgumentProblem,
    OSError,
    sqlite3.Error,
)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc) or type(exc).__name__


@contextmanager
def misuse_errors(*extra: type[BaseException]) -> Iterator[None]:
    """Turn a bad spec, a bad path or an unusable gradebook into `MisuseError` (exit 2).

    Every command wraps its work in it, so a misuse ends in one sentence on stderr
    whatever step found it. `extra` adds a command's own error types.
    """
    try:
        yield
    except click.ClickException:
        raise
    except (*MISUSE_ERRORS, *extra) as exc:
        raise MisuseError(_one_line(exc)) from exc


SECRET_HELP = (
    "File holding the secret seed of the hidden data (default: the MOTIFGRADER_SECRET "
    "environment variable; without either, the public development seed)."
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="motifgrader")
@click.option(
    "-v", "--verbose", is_flag=True, help="Log what the grader does to stderr (debug level)."
)
def main(verbose: bool = False) -> None:
    """Autograder for the DeepBind-style CNN motif-discovery homework."""
    if verbose:
        # The grader's own records at debug level; other libraries' warnings only.
        logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
        logging.getLogger("grader").setLevel(logging.DEBUG)


@main.command()
@click.argument("submissions", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("grading_output"),
    show_default=True,
    help="Folder for reports, grades.csv and results.json files.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Notebooks graded at once (default: what the cores and memory allow).",
)
@click.option(
    "--secret-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help=SECRET_HELP,
)
@click.option("--only", multiple=True, help="Grade only this student (repeatable).")
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Assignment spec (default: the bundled homework spec).",
)
@click.option(
    "--sandbox",
    type=click.Choice(["auto", "bubblewrap", "fallback"]),
    default="auto",
    show_default=True,
    help="How student kernels are isolated.",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="Run the jobs on an existing Dask cluster (e.g. tcp://10.0.0.5:8786).",
)
@click.option("--force", is_flag=True, help="Re-grade every submission, even unchanged ones.")
@click.option(
    "--gradebook",
    "gradebook_path",
    type=click.Path(path_type=Path),
    default=None,
    help="SQLite gradebook (default: OUT/gradebook.sqlite; keep it on a local disk).",
)
@click.option(
    "--i-trust-these-notebooks",
    "allow_unisolated",
    is_flag=True,
    help="DANGEROUS: grade even where student code cannot be isolated (it could read the "
    "secret and change other grades). Every output is then marked NOT ISOLATED.",
)
def grade(
    submissions: Path,
    out_dir: Path,
    workers: int | None,
    secret_file: Path | None,
    only: tuple[str, ...],
    spec_path: Path | None,
    sandbox: str,
    scheduler: str | None,
    force: bool,
    gradebook_path: Path | None,
    allow_unisolated: bool,
) -> None:
    """Grade every notebook in SUBMISSIONS (a folder or an LMS zip export).

    Student code runs only where it is measured to be isolated (bubblewrap, or a fallback
    whose per-job user reaches nothing of the grader's); otherwise nothing runs and the
    command exits 2 saying how to fix it.
    """
    from grader.intake.preflight import (
        check_gradebook_file,
        check_output_folder,
        check_scheduler,
        select_submissions,
    )
    from grader.spec import load_spec

    # Misuse is found before the grading machinery is even imported.
    with misuse_errors():
        load_spec(spec_path)
        check_output_folder(out_dir)
        check_gradebook_file(gradebook_path)
        selected = select_submissions(submissions, only or None)
        check_scheduler(scheduler)
    from grader.batch import grade_folder
    from grader.run.isolation import IsolationRefused

    progress = Progress(
        TextColumn("[bold]Grading"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=False,
    )
    task = progress.add_task("", total=None)

    def on_start(total: int) -> None:
        progress.update(task, total=total)

    def on_result(result) -> None:
        progress.update(task, advance=1, description=f"{result.student}: {result.status}")

    with misuse_errors(), _refusal_exits_2(IsolationRefused), progress:
        summary = grade_folder(
            submissions,
            out_dir,
            spec_path=spec_path,
            secret_file=secret_file,
            workers=workers,
            only=[s.student for s in selected] if only else None,
            sandbox=sandbox,
            scheduler=scheduler,
            force=force,
            gradebook_path=gradebook_path,
            on_result=on_result,
            on_start=on_start,
            allow_unisolated=allow_unisolated,
        )
    _print_summary(summary)


@contextmanager
def _refusal_exits_2(refusal: type[BaseException]) -> Iterator[None]:
    """A refusal to run unisolated is a paragraph (what was exposed, how to fix), exit 2."""
    try:
        yield
    except refusal as exc:
        raise RefusedError(str(exc)) from exc


class RefusedError(click.ClickException):
    """The grader will not do this safely here; the message says why and how to fix it."""

    exit_code = 2

    def show(self, file=None) -> None:  # type: ignore[override]
        click.secho(f"Refused: {self.message}", err=True, fg="red")


def _print_summary(summary) -> None:
    title = f"{len(summary.results)} submissions in {summary.seconds:.0f} s"
    if summary.reused:
        title += f" ({summary.graded} graded, {summary.reused} unchanged and re-used)"
    table = Table(title=title)
    for column in ("student", "status", "auto", "total"):
        table.add_column(column, justify="right" if column in ("auto", "total") else "left")
    for r in summary.results:
        table.add_row(
            r.student,
            r.status,
            f"{r.auto_score:g} / {r.auto_max:g}",
            f"{r.score:g} / {r.max_score:g}",
        )
    console.print(table)
    if not summary.isolated:
        from grader.run.isolation import NOT_ISOLATED_BANNER

        console.print(f"[bold white on red] {NOT_ISOLATED_BANNER} [/bold white on red]")
    if summary.seed_kind != "secret":
        console.print("[yellow]Development seed: pass --secret-file for real hidden data.[/yellow]")
    console.print(f"Class summary: {summary.index_path.resolve()}")


REFERENCE_LOG_NAME = "reference-stderr.log"


@main.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("reference_output"),
    show_default=True,
    help="Folder for report.html, metrics.json, the figures and the TensorFlow log.",
)
@click.option("--quick", is_flag=True, help="Fewer settings and epochs (under 2 minutes).")
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Training seed of the reference runs."
)
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Assignment spec (default: the bundled homework spec).",
)
def reference(out_dir: Path, quick: bool, seed: int, spec_path: Path | None) -> None:
    """Run the reference solution and write the instructor's answer key."""
    from grader.intake.preflight import check_output_folder
    from grader.spec import load_spec
    from grader.terminal import quiet_tensorflow_environment, stderr_to_file

    with misuse_errors():
        spec = load_spec(spec_path)
        check_output_folder(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
    quiet_tensorflow_environment()
    log = out_dir / REFERENCE_LOG_NAME
    # TensorFlow is imported here, with its C++ log lines sent to the log file.
    with console.status("Running the reference pipeline...") as status, stderr_to_file(log):
        from grader.answer_key import run_reference
        from grader.score.stress import definitions as stress_definitions

        metrics = run_reference(
            out_dir,
            quick=quick,
            seed=seed,
            recovery_threshold=spec.thresholds.recovery_similarity,
            interaction_margin=spec.thresholds.interaction_margin,
            progress=lambda message: status.update(message),
            stress=stress_definitions(spec, None) if spec.stress.enabled else (),
        )
    console.print(
        f"Wrote {out_dir / 'report.html'} ({len(metrics)} sections; log: {log})", soft_wrap=True
    )


OUT_OPTION = click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("grading_output"),
    show_default=True,
    help="The folder `grade` wrote.",
)
GRADEBOOK_OPTION = click.option(
    "--gradebook",
    "gradebook_path",
    type=click.Path(path_type=Path),
    default=None,
    help="SQLite gradebook (default: OUT/gradebook.sqlite).",
)
SPEC_OPTION = click.option(
    "--spec",
    "spec_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Assignment spec (default: the bundled homework spec).",
)
SECRET_OPTION = click.option(
    "--secret-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help=SECRET_HELP,
)


@main.command()
@OUT_OPTION
@SECRET_OPTION
@SPEC_OPTION
@GRADEBOOK_OPTION
def report(
    out_dir: Path, secret_file: Path | None, spec_path: Path | None, gradebook_path: Path | None
) -> None:
    """Re-write every report and export from the gradebook, without running notebooks."""
    from grader.intake.preflight import check_gradebook_file, check_output_folder
    from grader.spec import load_spec

    with misuse_errors():
        load_spec(spec_path)
        check_output_folder(out_dir)
        check_gradebook_file(gradebook_path)
        from grader.batch import rerender

        results = rerender(
            out_dir, spec_path=spec_path, secret_file=secret_file, gradebook_path=gradebook_path
        )
    console.print(f"Re-rendered {len(results)} reports; class summary: {out_dir / 'index.html'}")


@main.command()
@OUT_OPTION
@click.option(
    "--public",
    "public_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="HTML file to write: the leaderboard to publish (pseudonyms unless the spec says).",
)
@SECRET_OPTION
@SPEC_OPTION
@GRADEBOOK_OPTION
def leaderboard(
    out_dir: Path,
    public_path: Path,
    secret_file: Path | None,
    spec_path: Path | None,
    gradebook_path: Path | None,
) -> None:
    """Write a self-contained class leaderboard page from the grades in OUT."""
    from grader.outputs.leaderboard import LeaderboardError, write_public_leaderboard

    with misuse_errors(LeaderboardError):
        path = write_public_leaderboard(
            out_dir=out_dir,
            public=public_path,
            spec_path=spec_path,
            secret_file=secret_file,
            gradebook_path=gradebook_path,
        )
    console.print(f"Wrote the leaderboard to {path}")


@main.command()
@OUT_OPTION
@SPEC_OPTION
@GRADEBOOK_OPTION
@click.option(
    "--submissions",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="The submissions folder, to compare PDF reports too (SUBMISSIONS/<student>/*.pdf).",
)
def similarity(
    out_dir: Path, spec_path: Path | None, gradebook_path: Path | None, submissions: Path | None
) -> None:
    """Pairs of submissions to review for copying (instructor only): OUT/similarity/."""
    from grader.integrity.run import similarity_report

    with misuse_errors(FileNotFoundError):
        summary = similarity_report(
            out_dir=out_dir,
            gradebook_path=gradebook_path,
            spec_path=spec_path,
            submissions=submissions,
        )
    console.print(
        f"{summary.flagged} pairs similar, review ({summary.clusters} groups) among "
        f"{summary.students} submissions: {summary.index_path}"
    )


@main.group()
def manual() -> None:
    """Hand grading of the written answers (Q1-Q6)."""


def _open_gradebook(out_dir: Path, gradebook_path: Path | None):
    """The existing gradebook of a graded folder; a missing one is a misuse (exit 2)."""
    from grader.batch import GRADEBOOK_NAME
    from grader.gradebook.store import Gradebook
    from grader.intake.preflight import check_gradebook_file

    path = gradebook_path or out_dir / GRADEBOOK_NAME
    with misuse_errors():
        check_gradebook_file(path, must_exist=True)
        return Gradebook(path)


@manual.command("export")
@click.argument("sheet", type=click.Path(dir_okay=False, path_type=Path))
@OUT_OPTION
@GRADEBOOK_OPTION
@SPEC_OPTION
def manual_export(
    sheet: Path, out_dir: Path, gradebook_path: Path | None, spec_path: Path | None
) -> None:
    """Write SHEET: one row per student and question, with the answer text to grade."""
    from grader.gradebook.manual import export_sheet
    from grader.spec import load_spec

    with misuse_errors():
        spec = load_spec(spec_path)
    with _open_gradebook(out_dir, gradebook_path) as gradebook, misuse_errors():
        rows = export_sheet(gradebook, spec, sheet)
    console.print(f"Wrote {rows} rows to {sheet}; fill in 'points' and 'comment', then import it.")


@manual.command("import")
@click.argument("sheet", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@OUT_OPTION
@GRADEBOOK_OPTION
@SPEC_OPTION
@SECRET_OPTION
def manual_import(
    sheet: Path,
    out_dir: Path,
    gradebook_path: Path | None,
    spec_path: Path | None,
    secret_file: Path | None,
) -> None:
    """Merge the points and comments of a filled-in SHEET, then re-render the reports."""
    from grader.batch import rerender
    from grader.gradebook.manual import ManualGradeError, import_sheet
    from grader.spec import load_spec

    with misuse_errors():
        spec = load_spec(spec_path)
    with _open_gradebook(out_dir, gradebook_path) as gradebook:
        try:
            summary = import_sheet(gradebook, spec, sheet)
        except ManualGradeError as exc:
            raise MisuseError(f"{exc} (nothing was imported)") from exc
    with misuse_errors():
        rerender(
            out_dir, spec_path=spec_path, secret_file=secret_file, gradebook_path=gradebook_path
        )
    console.print(
        f"Imported {summary.imported} grades ({summary.cleared} cleared, "
        f"{summary.skipped_blank} blank rows left for later); reports re-rendered."
    )


# --------------------------------------------------------------------------- students and CI


@main.command()
@click.argument("notebook", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for report.html, results.json, executed.ipynb and summary.md "
    "[default: selfcheck/<notebook name>].",
)
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Assignment spec (default: the bundled homework spec).",
)
@click.option(
    "--sandbox",
    type=click.Choice(["auto", "bubblewrap", "fallback"]),
    default="auto",
    show_default=True,
    help="How the notebook's kernel is isolated.",
)
def check(notebook: Path, out_dir: Path | None, spec_path: Path | None, sandbox: str) -> None:
    """Run the public checks on NOTEBOOK, as the grader will, and write its HTML report.

    Exit status: 0 when every public check passes, 1 when one fails, 2 for misuse.
    """
    from rich.markup import escape

    from grader.intake.preflight import check_output_folder
    from grader.spec import load_spec
    from grader.student.selfcheck import check_notebook, summary_lines

    out_dir = out_dir or Path("selfcheck") / notebook.stem
    with misuse_errors():
        load_spec(spec_path)
        check_output_folder(out_dir)
    with (
        misuse_errors(),
        console.status(f"Running {notebook.name} from the top through the grader..."),
    ):
        outcome = check_notebook(notebook, out_dir=out_dir, spec_path=spec_path, sandbox=sandbox)
    for line in summary_lines(outcome):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if outcome.failed:
        console.print(f"\n[bold]{len(outcome.failed)} checks to fix[/bold]")
        for verdict in outcome.failed:
            console.print(f"[red]FAIL[/red] {escape(verdict.headline)}", soft_wrap=True)
            console.print(f"     {escape(verdict.message)}", highlight=False, soft_wrap=True)
    sys.exit(outcome.exit_code)


@main.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("student_bundle"),
    show_default=True,
    help="Folder to write the students' files into.",
)
@click.option(
    "--install-from",
    default=None,
    metavar="REQUIREMENT",
    help="Where the students' pip gets motifgrader, e.g. "
    "'git+https://github.com/COURSE/motifgrader@v0.1.0' or 'motifgrader==0.1.0' "
    "(default: a wheel of this grader, without the solution, inside the bundle).",
)
def bundle(out_dir: Path, install_from: str | None) -> None:
    """Write what students receive: starter notebook, README, requirements, CI workflow."""
    from grader.student.bundle import BundleError, write_student_bundle

    with misuse_errors(BundleError):
        paths = write_student_bundle(out_dir, install_from=install_from)
    for path in paths:
        console.print(str(path), markup=False, highlight=False)
    console.print(f"Wrote {len(paths)} files for students to {out_dir}.")


@main.command("ci-template")
@click.option(
    "--kind",
    type=click.Choice(["student", "instructor"]),
    required=True,
    help="student: self-check on push; instructor: `grade` with the secret from CI secrets.",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File to write, e.g. .github/workflows/selfcheck.yml (default: print it).",
)
def ci_template_command(kind: str, out_path: Path | None) -> None:
    """Write a GitHub Actions workflow for a course repository."""
    from grader.student.bundle import BundleError, ci_template, write_ci_template

    if out_path is None:
        click.echo(ci_template(kind), nl=False)
        return
    with misuse_errors(BundleError):
        written = write_ci_template(kind, out_path)
    console.print(f"Wrote {written}")


@main.command("calibrate")
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="JSON file to write (the shape of reference/expectations.json).",
)
@click.option("--seeds", type=click.IntRange(1, 1000), default=3, show_default=True)
@click.option(
    "--width",
    "widths",
    type=click.IntRange(1, 101),
    multiple=True,
    help="Kernel width to measure (repeatable; default 3 4 5 6 8 11 15).",
)
@click.option("--no-noise", is_flag=True, help="Skip the noise settings (much faster).")
def calibrate_command(out_path: Path, seeds: int, widths: tuple[int, ...], no_noise: bool) -> None:
    """Train the reference configurations over SEEDS seeds; write what they reach.

    The distributions (mean, best, 95% interval per kernel width and noise setting) are
    what reported sweep and noise results are checked against. Takes minutes per seed.
    """
    from grader.calibrate import calibrate

    with misuse_errors(ValueError):
        calibrated = calibrate(
            out=out_path, seeds=seeds, widths=widths or (3, 4, 5, 6, 8, 11, 15), noise=not no_noise
        )
    console.print(
        f"Wrote {out_path}: {len(calibrated['kernel_sweep'])} kernel widths, "
        f"{len(calibrated['noise'])} noise settings over {seeds} seeds."
    )


@main.command("sandbox")
@click.option(
    "--sandbox",
    "prefer",
    type=click.Choice(["auto", "bubblewrap", "fallback"]),
    default="auto",
    show_default=True,
    help="Which isolation to measure.",
)
def sandbox_command(prefer: str) -> None:
    """Measure whether student code would be isolated on this machine.

    Starts one process exactly as a student kernel would be started and tries to read the
    grader's source and processes. Exit status 0 when isolated, 1 when `grade` would refuse.
    """
    from grader.run.isolation import ProtectedPaths, measure_isolation, refusal_message

    verdict = measure_isolation(prefer, ProtectedPaths())
    if verdict.isolated:
        click.echo(verdict.summary)
        return
    click.secho(refusal_message(verdict), err=True, fg="red")
    sys.exit(1)


@main.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("grading_output"),
    show_default=True,
    help="The folder `grade` wrote.",
)
@click.option("--gradebook", "gradebook_path", type=click.Path(path_type=Path), default=None)
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Port (default: any free).")
@click.option(
    "--allow-remote", is_flag=True, help="Allow a --host other machines can reach (token kept)."
)
@click.option("--anonymous", is_flag=True, help="Hide student names in the desk.")
@click.option("--grader", default=None, help="Your name on saved grades (default: your login).")
def desk(
    out_dir: Path,
    gradebook_path: Path | None,
    spec_path: Path | None,
    host: str,
    port: int,
    allow_remote: bool,
    anonymous: bool,
    grader: str | None,
) -> None:
    """Grade the written answers in the browser, question by question, with a rubric."""
    from grader.desk.server import DeskError, run_desk

    def ready(handle) -> None:
        console.print(f"Grading desk: {handle.url}", markup=False, highlight=False, soft_wrap=True)
        console.print("Press Ctrl+C to stop; grades are saved as you go.")

    try:
        run_desk(
            out_dir=out_dir,
            gradebook_path=gradebook_path,
            spec_path=spec_path,
            host=host,
            port=port,
            allow_remote=allow_remote,
            anonymous=anonymous,
            grader=grader,
            on_ready=ready,
        )
    except (DeskError, SpecError) as exc:
        raise click.UsageError(str(exc)) from exc


if __name__ == "__main__":
    main()
