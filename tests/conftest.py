"""Fixtures shared by the tests: the assignment's own dataset, made once per session.

Tests must treat these objects as read-only; they are shared across modules.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest

from reference.data import Split, generate_synthetic_dataset, split_dataset

if TYPE_CHECKING:
    from grader.grade import GradedSubmission


@pytest.fixture(scope="session")
def starter_dataset() -> tuple[list[str], np.ndarray]:
    """The notebook's `generate_synthetic_dataset(num_pos=4000, num_neg=4000)` (seed 42)."""
    return generate_synthetic_dataset(num_pos=4000, num_neg=4000)


@pytest.fixture(scope="session")
def starter_split(starter_dataset: tuple[list[str], np.ndarray]) -> Split:
    """The notebook's 80/10/10 split of that dataset, by position."""
    return split_dataset(*starter_dataset)


# --------------------------------------------------------------------------- grading

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "student_submissions"
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


@pytest.fixture(scope="session")
def test_spec_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_test_spec(tmp_path_factory.mktemp("spec"))


HANGING_SAMPLE = "infinite_loop"
HANGING_CELL_LIMIT_S = 20
"""The hanging sample's cell limit: what it proves (a timeout keeps earlier points) does not
depend on how long the limit is, and the batch need not wait out the solution's 180 s."""


@dataclass(frozen=True)
class GradedSamples:
    """The example submissions graded: every result, and the output folder of each."""

    results: tuple
    out_dirs: dict[str, Path]

    @property
    def out_dir(self) -> Path:
        """The batch's folder (every sample but the hanging one)."""
        return self.out_dirs["reference_solution"]


@pytest.fixture(scope="session")
def graded_samples(tmp_path_factory: pytest.TempPathFactory, test_spec_path: Path) -> GradedSamples:
    """Every example submission graded once (slow: several minutes): the hanging one under
    a short cell limit, in a run of its own beside the batch of the others (it loops while
    they train), each into its own output folder."""
    from concurrent.futures import ThreadPoolExecutor

    from grader.batch import grade_folder

    batch, hanging = tmp_path_factory.mktemp("samples"), tmp_path_factory.mktemp("hanging")
    for sample in sorted(p for p in SAMPLES.iterdir() if p.is_dir()):
        shutil.copytree(sample, (hanging if sample.name == HANGING_SAMPLE else batch) / sample.name)
    short = write_test_spec(tmp_path_factory.mktemp("short"), cell_timeout_s=HANGING_CELL_LIMIT_S)
    out, hanging_out = tmp_path_factory.mktemp("graded_samples"), tmp_path_factory.mktemp("hung")
    with ThreadPoolExecutor(1) as beside:
        hung = beside.submit(grade_folder, hanging, hanging_out, spec_path=short, workers=1)
        summary = grade_folder(batch, out, spec_path=test_spec_path, workers=2)
        hung_summary = hung.result()
    results = sorted([*summary.results, *hung_summary.results], key=lambda r: r.student)
    return GradedSamples(
        tuple(results),
        {r.student: hung_summary.out_dir if r.student == HANGING_SAMPLE else out for r in results},
    )


@pytest.fixture(scope="session")
def graded_variants(tmp_path_factory: pytest.TempPathFactory, test_spec_path: Path):
    """Every notebook of `tests/variants/` graded once, in one batch of two workers beside
    the quick hostile cases of the corpus (`Case.mixed`), by student name (a case by its
    name). Shared: `test_variants` compares the variants with their twin, `test_hostile`
    checks that the twin scores its golden points beside the hostile notebooks."""
    from grader.batch import grade_folder
    from tests.corpus.build_corpus import CORPUS
    from tests.corpus.build_corpus import NOTEBOOK_NAME as CASE_NOTEBOOK
    from tests.corpus.cases import CASES
    from tests.variants.build_variants import CASE_NAMES, NOTEBOOK_NAME, VARIANTS

    folder = tmp_path_factory.mktemp("variants_in")
    for name in CASE_NAMES:
        (folder / name).mkdir()
        shutil.copy(VARIANTS / name / NOTEBOOK_NAME, folder / name / NOTEBOOK_NAME)
    for case in (c for c in CASES if c.mixed):
        (folder / case.name).mkdir()
        shutil.copy(CORPUS / case.name / CASE_NOTEBOOK, folder / case.name / CASE_NOTEBOOK)
    out = tmp_path_factory.mktemp("variants_out")
    summary = grade_folder(folder, out, spec_path=test_spec_path, workers=2)
    return {r.student: r for r in summary.results}


# ----------------------------------------------------------------- the starter, checked once

STARTER_NOTEBOOK = ROOT / "reference" / "notebooks" / "starter.ipynb"


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


@pytest.fixture(scope="session")
def starter_check(tmp_path_factory: pytest.TempPathFactory, test_spec_path: Path) -> RealCheck:
    """`motifgrader check` on the unmodified starter, for real, once per session."""
    from click.testing import CliRunner

    from grader.cli import main
    from grader.grade import grade_submission
    from grader.student import selfcheck

    folder = tmp_path_factory.mktemp("starter_check")
    notebook = folder / "hw4.ipynb"
    shutil.copyfile(STARTER_NOTEBOOK, notebook)
    recorded: list[GradedSubmission] = []

    def recording(*args, **kwargs) -> GradedSubmission:
        graded = grade_submission(*args, **kwargs)
        recorded.append(graded)
        return graded

    out = folder / "out"
    args = ["check", str(notebook), "--out", str(out), "--spec", str(test_spec_path)]
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
