"""The expensive gradings the tests share: each runs once per session, in the background.

When collection ends, the gradings the selected tests need start in order in child
processes, each as soon as the one before has no job left to start, while the quick tests
run; the tests that read a grading are ordered after the quick ones (`tests/conftest.py`).
A child process keeps what a grading changes to itself: the corpus sets TMPDIR and secrets
in its environment, the self-check points descriptors 1 and 2 at a file, and none of it
reaches a test running meanwhile.

    python -m tests.shared_gradings NAME FOLDER   # one grading, pickled into FOLDER
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grader.grade import GradedSubmission

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "student_submissions"
STARTER_NOTEBOOK = ROOT / "reference" / "notebooks" / "starter.ipynb"
RESULT_FILE = "result.pickle"
LOG_FILE = "grading.log"
DRAINING_FILE = "draining"
"""Written by a grading whose batch has no job left to start: the lane starts the next
grading then, so the next one's start-up and first jobs fill the cores the last jobs
leave idle."""

TEST_LIMITS = {
    # Long enough for the solution's slowest cell on a loaded 2-core CI machine.
    "cell_timeout_s": 180,
    "notebook_timeout_s": 600,
    "harvest_timeout_s": 60,
}


def write_test_spec(folder: Path, **limits: float) -> Path:
    """The bundled spec with shorter limits, so broken notebooks fail fast in CI."""
    text = (ROOT / "grader" / "assignments" / "deepbind_motif.toml").read_text()
    for key, value in {**TEST_LIMITS, **limits}.items():
        text = re.sub(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
    path = folder / "test_spec.toml"
    path.write_text(text)
    return path


HANGING_SAMPLE = "infinite_loop"
HANGING_CELL_LIMIT_S = 20
"""The hanging sample's cell limit: what it proves (a timeout keeps earlier points) does not
depend on how long the limit is, and the batch need not wait out the solution's 180 s."""


# --------------------------------------------------------------------------- the gradings


@dataclass(frozen=True)
class GradedSamples:
    """The example submissions graded: every result, and the output folder of each."""

    results: tuple
    out_dirs: dict[str, Path]

    @property
    def out_dir(self) -> Path:
        """The batch's folder (every sample but the hanging one)."""
        return self.out_dirs["reference_solution"]


def graded_samples(folder: Path) -> GradedSamples:
    """Every example submission graded: the hanging one under a short cell limit, in a
    run of its own beside the batch of the others (it loops while they train), each into
    its own output folder."""
    from concurrent.futures import ThreadPoolExecutor

    from grader.batch import grade_folder

    batch, hanging = folder / "samples", folder / "hanging"
    for sample in sorted(p for p in SAMPLES.iterdir() if p.is_dir()):
        shutil.copytree(sample, (hanging if sample.name == HANGING_SAMPLE else batch) / sample.name)
    spec = write_test_spec(_made(folder / "spec"))
    short = write_test_spec(_made(folder / "short"), cell_timeout_s=HANGING_CELL_LIMIT_S)
    out, hanging_out = folder / "graded_samples", folder / "hung"
    with ThreadPoolExecutor(1) as beside:
        hung = beside.submit(grade_folder, hanging, hanging_out, spec_path=short, workers=1)
        summary = grade_folder(batch, out, spec_path=spec, **Draining(folder, 2).batch())
        hung_summary = hung.result()
    results = sorted([*summary.results, *hung_summary.results], key=lambda r: r.student)
    return GradedSamples(
        tuple(results),
        {r.student: hung_summary.out_dir if r.student == HANGING_SAMPLE else out for r in results},
    )


def graded_variants(folder: Path) -> dict:
    """Every notebook of `tests/variants/` graded in one batch of two workers beside the
    quick hostile cases of the corpus (`Case.mixed`), by student name (a case by its
    name). `test_variants` compares the variants with their twin, `test_hostile` checks
    that the twin scores its golden points beside the hostile notebooks."""
    from grader.batch import grade_folder
    from tests.corpus.build_corpus import CORPUS
    from tests.corpus.build_corpus import NOTEBOOK_NAME as CASE_NOTEBOOK
    from tests.corpus.cases import CASES
    from tests.variants.build_variants import CASE_NAMES, NOTEBOOK_NAME, VARIANTS

    submissions = folder / "variants_in"
    for name in CASE_NAMES:
        _made(submissions / name)
        shutil.copy(VARIANTS / name / NOTEBOOK_NAME, submissions / name / NOTEBOOK_NAME)
    for case in (c for c in CASES if c.mixed):
        _made(submissions / case.name)
        shutil.copy(CORPUS / case.name / CASE_NOTEBOOK, submissions / case.name / CASE_NOTEBOOK)
    spec = write_test_spec(_made(folder / "spec"))
    out = folder / "variants_out"
    summary = grade_folder(submissions, out, spec_path=spec, **Draining(folder, 2).batch())
    return {r.student: r for r in summary.results}


@dataclass
class RealCheck:
    """One real `motifgrader check` run: what the terminal showed, and what it graded."""

    terminal: str
    descriptors: str
    exit_code: int
    graded: GradedSubmission
    notebook: Path
    out_dir: Path


@contextmanager
def descriptors_to(path: Path) -> Iterator[None]:
    """Descriptors 1 and 2 (this process's, inherited by its children) into one file."""
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(path, "wb") as sink:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
    finally:
        for fd in saved:
            os.close(fd)


def starter_check(folder: Path) -> RealCheck:
    """`motifgrader check` on the unmodified starter, for real."""
    import pytest
    from click.testing import CliRunner

    from grader.cli import main
    from grader.grade import grade_submission
    from grader.student import selfcheck

    notebook = folder / "hw4.ipynb"
    shutil.copyfile(STARTER_NOTEBOOK, notebook)
    spec = write_test_spec(_made(folder / "spec"))
    recorded: list[GradedSubmission] = []

    def recording(*args, **kwargs) -> GradedSubmission:
        graded = grade_submission(*args, **kwargs)
        recorded.append(graded)
        return graded

    out = folder / "out"
    args = ["check", str(notebook), "--out", str(out), "--spec", str(spec)]
    with pytest.MonkeyPatch.context() as patch, descriptors_to(folder / "fds.log"):
        patch.setattr(selfcheck, "grade_submission", recording)
        result = CliRunner().invoke(main, args)
    (graded,) = recorded
    return RealCheck(
        terminal=result.stdout + result.stderr,
        descriptors=(folder / "fds.log").read_text(errors="replace"),
        exit_code=result.exit_code,
        graded=graded,
        notebook=notebook,
        out_dir=out,
    )


def hostile_corpus(folder: Path) -> Any:
    """The whole corpus (`tests/corpus/grade_corpus.py`); its base folder is its own."""
    from tests.corpus.grade_corpus import grade_corpus

    return grade_corpus()


GRADINGS: dict[str, Callable[[Path], Any]] = {
    "starter_check": starter_check,
    "graded_samples": graded_samples,
    "graded_variants": graded_variants,
    "hostile_corpus": hostile_corpus,
}
"""In the order they run: the corpus, whose limits are the shortest, last, when the quick
tests are over and the machine is quietest."""


def _made(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Draining:
    """`grade_folder` callbacks that write `folder/draining` once every job of the batch
    has started, that is when no more jobs are left than the batch has workers."""

    folder: Path
    workers: int
    remaining: int = -1

    def batch(self) -> dict[str, Any]:
        """`grade_folder`'s worker count and progress callbacks."""
        return {"workers": self.workers, "on_start": self.started, "on_result": self.finished}

    def started(self, submissions: int) -> None:
        self.remaining = submissions
        self._mark()

    def finished(self, result: object) -> None:
        self.remaining -= 1
        self._mark()

    def _mark(self) -> None:
        if 0 <= self.remaining <= self.workers:
            (self.folder / DRAINING_FILE).touch()


# --------------------------------------------------------------------------- the lane


class GradingFailed(RuntimeError):
    """A shared grading's process ended without a result."""


class BackgroundLane:
    """Runs the named gradings in order, each in a child process, on a thread of its own;
    `result(name)` waits for one. The next grading starts when the one before has ended
    or has no job left to start (`DRAINING_FILE`). A grading nobody started runs on
    demand."""

    def __init__(self, names: list[str], root: Path) -> None:
        self.names = tuple(n for n in GRADINGS if n in names)
        self.root = root
        self._done = {name: threading.Event() for name in GRADINGS}
        self._on_demand: set[str] = set()
        self._running: set[subprocess.Popen] = set()
        self._stopped = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run_all, name="shared-gradings", daemon=True)

    def start(self) -> None:
        if self.names:
            self._thread.start()

    def _run_all(self) -> None:
        for name in self.names:
            self._start(name)
            draining = self.root / name / DRAINING_FILE
            while not self._done[name].wait(0.5) and not draining.exists():
                pass

    def _start(self, name: str) -> None:
        """Start the grading's process; its event is set when the process has ended."""
        folder = _made(self.root / name)
        with self._lock:
            if self._stopped:
                self._done[name].set()
                return
            try:
                with open(folder / LOG_FILE, "wb") as log:
                    child = subprocess.Popen(
                        [sys.executable, "-m", "tests.shared_gradings", name, str(folder)],
                        cwd=ROOT,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
            except BaseException:
                self._done[name].set()
                raise
            self._running.add(child)

        def wait() -> None:
            try:
                child.wait()
                with self._lock:
                    self._running.discard(child)
            finally:
                self._done[name].set()

        threading.Thread(target=wait, name=f"shared-grading-{name}", daemon=True).start()

    def result(self, name: str) -> Any:
        if name not in self.names and name not in self._on_demand:
            self._on_demand.add(name)
            self._start(name)
        self._done[name].wait()
        folder = self.root / name
        path = folder / RESULT_FILE
        if not path.is_file():
            log = folder / LOG_FILE
            tail = log.read_text(errors="replace")[-6000:] if log.is_file() else ""
            raise GradingFailed(f"the shared grading {name!r} left no result; {log} ends:\n{tail}")
        with open(path, "rb") as handle:
            return pickle.load(handle)

    def stop(self) -> None:
        """End the gradings still running (the session stopped early)."""
        with self._lock:
            self._stopped = True
            running = [child for child in self._running if child.poll() is None]
        for child in running:
            os.killpg(child.pid, signal.SIGTERM)
        for child in running:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()


def main(argv: list[str]) -> int:
    """Run one grading and pickle its result (written whole, or not at all)."""
    name, folder = argv[0], Path(argv[1])
    os.environ.setdefault("MPLBACKEND", "Agg")
    # As under pytest, log records go to a file, never to the descriptors a test reads.
    handler = logging.FileHandler(folder / "logging.txt")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    result = GRADINGS[name](folder)
    partial = folder / (RESULT_FILE + ".partial")
    with open(partial, "wb") as handle:
        pickle.dump(result, handle)
    partial.rename(folder / RESULT_FILE)
    return 0


if __name__ == "__main__":
    # Through the module's own name, so the pickled classes are found by the test session.
    from tests.shared_gradings import main as run_one

    sys.exit(run_one(sys.argv[1:]))
