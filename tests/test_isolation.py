"""Fail closed: student code runs only where it is measured to be isolated.

Under exactly what `.ci/run` sets up (bubblewrap installed by `make setup`), grading runs;
with bwrap hidden from PATH the fallback cannot isolate on such a machine (a world-readable
secret is readable by any uid, and a root fallback reads everything), so `grade` refuses
before running anything, and the explicit opt-out grades with a banner on every output.
The kernel never sees the grader's source, and the scorer sees the science but not the
answers.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from markupsafe import escape

from grader.run import detect, sandbox, wrap
from grader.run.isolation import (
    NOT_ISOLATED_BANNER,
    OPT_OUT_FLAG,
    IsolationRefused,
    ProtectedPaths,
    measure_isolation,
    require_isolation,
)
from grader.run.sandbox import SandboxLimits, SandboxUnavailable, prepare_job
from grader.run.wrap import wrap_kernel_command

ROOT = Path(__file__).resolve().parent.parent
MOTIFGRADER = Path(sys.executable).parent / "motifgrader"

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux-only")


def _bubblewrap_works() -> bool:
    try:
        return detect.probe_sandbox("bubblewrap").kind == "bubblewrap"
    except SandboxUnavailable:
        return False


needs_bwrap = pytest.mark.skipif(not _bubblewrap_works(), reason="bubblewrap does not work here")


@pytest.fixture
def without_bwrap(monkeypatch: pytest.MonkeyPatch) -> None:
    """PATH with only the venv's scripts: `bwrap` cannot be found, as on a bare machine."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}/nonexistent")


@pytest.fixture
def course(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An instructor's folder a careless instructor would lay out: a world-readable secret
    beside the submissions and the output folder, all under a folder others can enter."""
    base = Path(tempfile.mkdtemp(prefix="mgi-", dir="/tmp"))
    base.chmod(0o755)
    (base / "secret.txt").write_text("isolation-test-secret\n")
    (base / "secret.txt").chmod(0o644)
    student = base / "submissions" / "ada"
    student.mkdir(parents=True)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("print('hello from ada')")]
    nbformat.write(notebook, student / "hw4.ipynb")
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _protected(base: Path) -> ProtectedPaths:
    out = base / "out"
    out.mkdir(exist_ok=True)
    return ProtectedPaths.for_run(
        secret_file=base / "secret.txt",
        submissions=base / "submissions",
        out_dir=out,
        gradebook=out / "gradebook.sqlite",
        spec_file=None,
    )


# --------------------------------------------------------------------------- the measurement


@needs_bwrap
def test_bubblewrap_is_measured_isolated_from_secret_submissions_output_and_grader(course):
    verdict = measure_isolation("auto", _protected(course))
    assert verdict.isolated, verdict.exposed
    assert verdict.summary.startswith("isolated (measured): bubblewrap")


def test_a_grader_whose_parent_is_init_is_not_mistaken_for_the_sandboxs_own_init(
    course, monkeypatch
):
    # Under nohup, a service manager or as a container's first process, the grader's
    # parent is PID 1. In its own PID namespace the probe's /proc/1 is the sandbox's
    # init: readable, but not the grader's. Refusing there would refuse every container.
    if not _bubblewrap_works():
        pytest.skip("bubblewrap cannot run here")
    monkeypatch.setattr("grader.run.isolation.os.getppid", lambda: 1)
    verdict = measure_isolation("auto", _protected(course))
    assert verdict.isolated, verdict.exposed


def test_fallback_exposing_a_world_readable_secret_is_not_isolated(course, without_bwrap):
    verdict = measure_isolation("auto", _protected(course))
    assert not verdict.isolated
    assert f"read {course / 'secret.txt'}" in verdict.exposed
    with pytest.raises(IsolationRefused, match="bubblewrap"):
        require_isolation("auto", _protected(course))


def test_forced_fallback_is_refused_where_it_cannot_isolate(course):
    with pytest.raises(IsolationRefused, match=OPT_OUT_FLAG):
        require_isolation("fallback", _protected(course))
    allowed = require_isolation("fallback", _protected(course), allow_unisolated=True)
    assert allowed.allowed_unisolated and not allowed.isolated
    assert allowed.summary.startswith("NOT ISOLATED")


def test_measurement_leaves_nothing_behind_where_it_tried_to_write(course, without_bwrap):
    protected = _protected(course)
    before = sorted(str(p) for p in course.rglob("*"))
    assert not measure_isolation("auto", protected).isolated
    assert sorted(str(p) for p in course.rglob("*")) == before


# --------------------------------------------------------------------------- what the kernel sees

SEE = """
import json, os, sys
found = {}
for path in json.loads(sys.argv[1]):
    try:
        found[path] = sorted(os.listdir(path)) if os.path.isdir(path) else open(path).read(40)
    except OSError as exc:
        found[path] = "blocked: " + exc.strerror
print(json.dumps(found))
"""


def _look(paths: list[str], **wrap_options) -> dict:
    info = detect.probe_sandbox("bubblewrap")
    folder = Path(tempfile.mkdtemp(prefix="mg-test-"))
    try:
        with prepare_job(folder, info) as job:
            command = wrap_kernel_command(
                [sys.executable, "-I", "-c", SEE, json.dumps(paths)],
                job=job,
                sandbox=info,
                limits=SandboxLimits(),
                **wrap_options,
            )
            done = subprocess.run(
                command,
                env=sandbox.scrubbed_environment(job=job),
                capture_output=True,
                text=True,
                timeout=60,
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _unseen(value: object) -> bool:
    return value in ([], "") or str(value).startswith("blocked")


@needs_bwrap
def test_kernel_sees_none_of_the_graders_source_solution_or_spec():
    solution = ROOT / "reference" / "notebooks" / "solution.ipynb"
    spec = ROOT / "grader" / "assignments" / "deepbind_motif.toml"
    folders = [str(p) for p in wrap.grader_source_folders()]
    seen = _look([str(solution), str(spec), *folders])
    assert all(_unseen(value) for value in seen.values()), seen


@needs_bwrap
def test_hidden_path_under_a_mounted_folder_looks_empty():
    """A secret or an output folder kept inside the Python installation is masked anyway."""
    inside = Path(sys.prefix) / "lib"
    shown = _look([str(inside)])
    hidden = _look([str(inside)], hidden_paths=[inside])
    assert shown[str(inside)] and hidden[str(inside)] == []


@needs_bwrap
def test_scorer_sees_the_science_but_not_the_answers():
    reference = ROOT / "reference"
    wanted = [
        str(reference / "encode.py"),
        str(reference / "notebooks" / "solution.ipynb"),
        str(reference / "expectations.json"),
        str(ROOT / "grader" / "assignments" / "deepbind_motif.toml"),
    ]
    seen = _look(wanted, grader_source=True)
    assert seen[wanted[0]].startswith('"""')
    assert all(_unseen(seen[path]) for path in wanted[1:]), seen


# --------------------------------------------------------------------------- grade refuses


def _shows_banner(page: str) -> bool:
    return "<strong>NOT ISOLATED.</strong>" in page and str(escape(NOT_ISOLATED_BANNER)) in page


def test_grade_refuses_before_running_anything(course, without_bwrap, monkeypatch):
    from grader.batch import grade_folder

    monkeypatch.setenv("TMPDIR", str(course))
    with pytest.raises(IsolationRefused) as refused:
        grade_folder(course / "submissions", course / "out", secret_file=course / "secret.txt")
    assert "install bubblewrap" in str(refused.value)
    assert not (course / "out" / "gradebook.sqlite").exists()
    assert not list(course.glob("mg-*")), "a job folder was made: something ran"


def test_grade_command_exits_2_with_the_fix(course):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}/nonexistent"}
    done = subprocess.run(
        [str(MOTIFGRADER), "grade", str(course / "submissions"), "--out", str(course / "out")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "refuses to run student notebooks" in done.stderr and OPT_OUT_FLAG in done.stderr
    assert not (course / "out" / "students").exists()


@pytest.mark.slow
def test_opt_out_grades_with_a_banner_everywhere_and_is_never_reused(
    course, without_bwrap, monkeypatch
):
    from grader.batch import grade_folder

    monkeypatch.setenv("TMPDIR", str(course))
    summary = grade_folder(course / "submissions", course / "out", workers=1, allow_unisolated=True)
    assert not summary.isolated and summary.isolation.startswith("NOT ISOLATED")
    (result,) = summary.results
    assert result.environment["isolated"] is False
    for page in (
        course / "out" / "students" / "ada" / "report.html",
        course / "out" / "index.html",
    ):
        assert _shows_banner(page.read_text()), page
    with sqlite3.connect(course / "out" / "gradebook.sqlite") as db:
        (isolation,) = db.execute("SELECT isolation FROM runs").fetchone()
    assert isolation.startswith("NOT ISOLATED")
    if not _bubblewrap_works():
        return
    monkeypatch.undo()
    monkeypatch.setenv("TMPDIR", str(course))
    again = grade_folder(course / "submissions", course / "out", workers=1)
    assert again.isolated and again.graded == 1 and again.reused == 0
    assert not _shows_banner((course / "out" / "index.html").read_text())


@pytest.mark.slow
def test_dask_worker_that_cannot_isolate_refuses_and_is_named(course, without_bwrap):
    distributed = pytest.importorskip("distributed")
    from grader.batch import grade_folder

    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        with pytest.raises(IsolationRefused) as refused:
            grade_folder(
                course / "submissions", course / "out", scheduler=cluster.scheduler_address
            )
        (worker,) = cluster.workers.values()
        assert f"worker {worker.worker_address}" in str(refused.value)
    assert not (course / "out" / "gradebook.sqlite").exists()
