"""Grader benchmarks that take minutes: run as a script, not collected by pytest.

    python benchmarks/bench_grader.py overhead   # grading vs plain nbclient, same notebook
    python benchmarks/bench_grader.py parallel   # 2 workers vs 1 on 8 starter-like notebooks
    python benchmarks/bench_grader.py course     # 500 simulated submissions on a LocalCluster
    python benchmarks/bench_grader.py repeat     # the same submission graded twice

Each prints the measured figures and the ratio against its target, measured in the
same run on the same machine.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.batch import grade_folder  # noqa: E402
from grader.grade import GradingOptions, grade_submission  # noqa: E402
from grader.intake.discover import discover_submissions  # noqa: E402
from grader.spec import load_spec, resolve_seed  # noqa: E402

SOLUTION = ROOT / "student_submissions" / "reference_solution" / "hw4.ipynb"
STARTER = ROOT / "student_submissions" / "unmodified_starter" / "hw4.ipynb"


def plain_nbclient_seconds(path: Path) -> float:
    """The notebook run the way a course would without a grader: nbclient, no limits."""
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    started = time.monotonic()
    NotebookClient(notebook, timeout=1800, kernel_name="python3", allow_errors=True).execute()
    return time.monotonic() - started


def overhead(path: Path = SOLUTION) -> None:
    spec = load_spec()
    seed = resolve_seed(spec)
    work = Path(tempfile.mkdtemp(prefix="mg-bench-"))
    (work / "solution").mkdir()
    shutil.copy(path, work / "solution" / "hw4.ipynb")
    [submission] = discover_submissions(work)
    plain = plain_nbclient_seconds(path)
    started = time.monotonic()
    graded = grade_submission(submission, spec, seed, GradingOptions())
    grading = time.monotonic() - started
    timings = graded.result.timings
    print(f"plain nbclient execution: {plain:7.1f} s")
    print(
        f"grading one submission:   {grading:7.1f} s  (status {graded.result.status}, "
        f"{graded.result.auto_score:g}/{graded.result.auto_max:g})"
    )
    print(
        f"  of which execution {timings['execution_s']} s, scoring {timings['scoring_s']} s, "
        f"after execution {timings['grader_overhead_s']} s"
    )
    print(f"overhead ratio: {grading / plain:.3f}  (target <= 1.25)")
    shutil.rmtree(work, ignore_errors=True)


def _starter_like(folder: Path, n: int) -> None:
    """The starter with a smaller dataset, so eight of them take minutes, not tens."""
    notebook = nbformat.read(STARTER, as_version=4)
    for cell in notebook.cells:
        cell.source = cell.source.replace(
            "num_pos=4000, num_neg=4000", "num_pos=1500, num_neg=1500"
        )
    for i in range(n):
        (folder / f"student{i}").mkdir(parents=True)
        nbformat.write(notebook, folder / f"student{i}" / "hw4.ipynb")


def parallel(n: int = 8) -> None:
    work = Path(tempfile.mkdtemp(prefix="mg-bench-"))
    _starter_like(work / "subs", n)
    times = {}
    for workers in (1, 2):
        started = time.monotonic()
        summary = grade_folder(work / "subs", work / f"out{workers}", workers=workers)
        times[workers] = time.monotonic() - started
        own = [r.timings["total_s"] - r.timings["execution_s"] for r in summary.results]
        print(
            f"{workers} worker(s): {times[workers]:6.1f} s for {n} submissions; grader's own "
            f"time per submission (excluding execution) {sum(own) / len(own):.1f} s"
        )
    print(f"speed-up of 2 workers over 1: {times[1] / times[2]:.2f}x  (target >= 1.6)")
    shutil.rmtree(work, ignore_errors=True)


def course(n: int = 500, workers: int = 8, delay: float = 0.5) -> None:
    """Coordinator cost at course scale: jobs sleep instead of running notebooks."""
    import os

    from distributed import Client, LocalCluster

    os.environ["MOTIFGRADER_FAKE_JOB_SLEEP"] = str(delay)
    os.environ["MOTIFGRADER_FAKE_FIGURE_KB"] = "400"  # a real report embeds ~400 KB of figures
    os.environ["PYTHONPATH"] = str(ROOT)
    from tests.fake_jobs import quick_job

    work = Path(tempfile.mkdtemp(prefix="mg-course-"))
    notebook = nbformat.read(STARTER, as_version=4)
    for i in range(n):
        (work / "subs" / f"s{i:03d}").mkdir(parents=True)
        nbformat.write(notebook, work / "subs" / f"s{i:03d}" / "hw4.ipynb")
    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, processes=True) as cluster,
        Client(cluster) as client,
    ):
        started = time.monotonic()
        cpu0 = time.process_time()
        summary = grade_folder(
            work / "subs", work / "out", executor=client.get_executor(pure=False), job=quick_job
        )
        wall = time.monotonic() - started
        cpu = time.process_time() - cpu0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ideal = n * delay / workers
    print(
        f"{len(summary.results)} simulated submissions on {workers} Dask workers: {wall:.1f} s "
        f"(ideal {ideal:.1f} s with {delay} s jobs); coordinator CPU {cpu:.1f} s "
        f"({1000 * cpu / n:.1f} ms per submission), peak RSS {peak:.0f} MiB"
    )
    shutil.rmtree(work, ignore_errors=True)


def repeat(path: Path = STARTER) -> None:
    spec = load_spec()
    seed = resolve_seed(spec)
    work = Path(tempfile.mkdtemp(prefix="mg-bench-"))
    (work / "s").mkdir()
    shutil.copy(path, work / "s" / "hw4.ipynb")
    [submission] = discover_submissions(work)
    first = grade_submission(submission, spec, seed).result
    second = grade_submission(submission, spec, seed).result
    same = [(a.name, a.points, b.points) for a, b in zip(first.checks, second.checks, strict=True)]
    differing = [row for row in same if row[1] != row[2]]
    print(
        f"graded twice: {first.auto_score} and {second.auto_score}; differing checks: "
        f"{differing or 'none'}"
    )
    shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=["overhead", "parallel", "course", "repeat"])
    args = parser.parse_args()
    {"overhead": overhead, "parallel": parallel, "course": course, "repeat": repeat}[args.which]()


if __name__ == "__main__":
    main()
