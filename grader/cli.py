"""The `motifgrader` command line: thin wrappers around plain functions.

Each command parses its options and calls one function that the tests call too;
nothing here decides a grade. Exit status: 0 when the grader did its job (whatever
the students' results), 2 for misuse (bad arguments, unreadable spec), and for
`check` 1 when a public check failed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from grader.spec import SpecError

console = Console(stderr=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="motifgrader")
def main() -> None:
    """Autograder for the DeepBind-style CNN motif-discovery homework."""


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
    help="File holding the secret seed for the hidden data.",
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
) -> None:
    """Grade every notebook in SUBMISSIONS (a folder or an LMS zip export)."""
    from grader.batch import grade_folder

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

    try:
        with progress:
            summary = grade_folder(
                submissions,
                out_dir,
                spec_path=spec_path,
                secret_file=secret_file,
                workers=workers,
                only=only or None,
                sandbox=sandbox,
                scheduler=scheduler,
                force=force,
                gradebook_path=gradebook_path,
                on_result=on_result,
                on_start=on_start,
            )
    except (SpecError, FileNotFoundError, OSError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        sys.exit(2)
    _print_summary(summary)


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
    if summary.seed_kind != "secret":
        console.print("[yellow]Development seed: pass --secret-file for real hidden data.[/yellow]")
    console.print(f"Class summary: {summary.index_path.resolve()}")


@main.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("reference_output"),
    show_default=True,
)
@click.option("--quick", is_flag=True, help="Fewer settings and epochs (under 2 minutes).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
)
def reference(out_dir: Path, quick: bool, seed: int, spec_path: Path | None) -> None:
    """Run the reference solution and write the instructor's answer key."""
    from grader.spec import load_spec
    from reference.pipeline import run_reference

    try:
        spec = load_spec(spec_path)
    except SpecError as exc:
        console.print(f"[red]error:[/red] {exc}")
        sys.exit(2)
    with console.status("Running the reference pipeline...") as status:
        metrics = run_reference(
            out_dir,
            quick=quick,
            seed=seed,
            recovery_threshold=spec.thresholds.recovery_similarity,
            progress=lambda message: status.update(message),
        )
    console.print(f"Wrote {out_dir / 'report.html'} ({len(metrics)} sections)")


OUT_OPTION = click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("grading_output"),
    show_default=True,
    help="The folder `grade` wrote.",
)
GRADEBOOK_OPTION = click.option(
    "--gradebook", "gradebook_path", type=click.Path(path_type=Path), default=None
)
SPEC_OPTION = click.option(
    "--spec",
    "spec_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
)
SECRET_OPTION = click.option(
    "--secret-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None
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
    from grader.batch import rerender

    try:
        results = rerender(
            out_dir, spec_path=spec_path, secret_file=secret_file, gradebook_path=gradebook_path
        )
    except (SpecError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        sys.exit(2)
    console.print(f"Re-rendered {len(results)} reports; class summary: {out_dir / 'index.html'}")


@main.group()
def manual() -> None:
    """Hand grading of the written answers (Q1-Q6)."""


def _open_gradebook(out_dir: Path, gradebook_path: Path | None):
    from grader.batch import GRADEBOOK_NAME
    from grader.gradebook import Gradebook

    path = gradebook_path or out_dir / GRADEBOOK_NAME
    if not path.is_file():
        console.print(f"[red]error:[/red] no gradebook at {path}: run `motifgrader grade` first")
        sys.exit(2)
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
    from grader.manual import export_sheet
    from grader.spec import load_spec

    with _open_gradebook(out_dir, gradebook_path) as gradebook:
        rows = export_sheet(gradebook, load_spec(spec_path), sheet)
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
    from grader.manual import ManualGradeError, import_sheet
    from grader.spec import load_spec

    spec = load_spec(spec_path)
    with _open_gradebook(out_dir, gradebook_path) as gradebook:
        try:
            summary = import_sheet(gradebook, spec, sheet)
        except ManualGradeError as exc:
            console.print(f"[red]error:[/red] {exc} (nothing was imported)")
            sys.exit(2)
    rerender(out_dir, spec_path=spec_path, secret_file=secret_file, gradebook_path=gradebook_path)
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
    type=click.Path(file_okay=False, path_type=Path),
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

    from grader.selfcheck import check_notebook, summary_lines

    out_dir = out_dir or Path("selfcheck") / notebook.stem
    try:
        with console.status(f"Running {notebook.name} from the top through the grader..."):
            outcome = check_notebook(
                notebook, out_dir=out_dir, spec_path=spec_path, sandbox=sandbox
            )
    except (SpecError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        sys.exit(2)
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
    from grader.bundle import BundleError, write_student_bundle

    try:
        paths = write_student_bundle(out_dir, install_from=install_from)
    except BundleError as exc:
        console.print(f"[red]error:[/red] {exc}")
        sys.exit(2)
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
    from grader.bundle import ci_template, write_ci_template

    if out_path is None:
        click.echo(ci_template(kind), nl=False)
        return
    console.print(f"Wrote {write_ci_template(kind, out_path)}")


if __name__ == "__main__":
    main()
