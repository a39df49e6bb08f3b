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
def grade(
    submissions: Path,
    out_dir: Path,
    workers: int | None,
    secret_file: Path | None,
    only: tuple[str, ...],
    spec_path: Path | None,
    sandbox: str,
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
                on_result=on_result,
                on_start=on_start,
            )
    except (SpecError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        sys.exit(2)
    _print_summary(summary)


def _print_summary(summary) -> None:
    table = Table(title=f"{len(summary.results)} submissions graded in {summary.seconds:.0f} s")
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


if __name__ == "__main__":
    main()
