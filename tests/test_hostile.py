"""Hostile and broken notebooks: each gets a truthful status and report, none raises its own
score, harms the machine, reads the hidden data or touches another student's results, and
the batch always finishes.

The corpus (`tests/corpus/`, table in `tests/corpus/cases.py`) is graded once, in one batch
with short limits, beside a folder of sentinels laid out as a careless instructor would:
the job folders, the grader's output folder, another student's results and the secret
file are siblings. Then every row of the table is checked, and so is the machine: no
process left, no file changed outside the job folders, no secret in any output.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import socket
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.checks.results import StudentResult
from grader.run import detect
from grader.run import sandbox as sandboxing
from tests.conftest import write_test_spec
from tests.corpus.build_corpus import (
    CANARY,
    CORPUS,
    LARGE_CASE,
    NOTEBOOK_NAME,
    build_case,
    case_names,
    write_large_notebook,
)
from tests.corpus.cases import CASES, CORPUS_LIMITS, MEASURED_CHECKS, Case
from tests.golden_scores import MEASURED_CHECKS as MEASURED_ON_A_MODEL
from tests.golden_scores import MEASURED_TOLERANCE, STANDARD_TWIN

VICTIM_TEXT = "a file beside the job folders that no notebook may change\n"
OTHER_RESULTS = '{"score": 42, "note": "another student\'s results, graded earlier"}\n'
ENV_CANARIES = {
    "MOTIFGRADER_SECRET": f"env-secret-{secrets.token_hex(8)}",
    "AWS_SECRET_ACCESS_KEY": f"aws-canary-{secrets.token_hex(8)}",
}
HOST_TARGETS = (
    Path("/tmp") / f"{CANARY}-pwned.txt",
    Path("/root") / f"{CANARY}-pwned.txt",
    Path("/etc") / f"{CANARY}-pwned",
    Path(sysconfig.get_paths()["purelib"]) / f"{CANARY}_pwned.py",
    Path(sys.executable).parent / f"{CANARY}-pwned",
)
"""Files the write_outside_job case tries to create on the host."""


def _case_id(case: Case) -> str:
    return case.name


SANDBOX = os.environ.get("MOTIFGRADER_TEST_SANDBOX", "auto")
"""Set to "fallback" to grade the corpus without bubblewrap on a machine that has it."""


def _sandbox() -> sandboxing.SandboxInfo:
    return detect.probe_sandbox(SANDBOX)


def _confined() -> bool:
    return _sandbox().kind == "bubblewrap"


def _isolated() -> bool:
    """The kernel could not read or write as the grader: bubblewrap, or a per-job uid."""
    info = _sandbox()
    return info.kind == "bubblewrap" or info.job_user


NOT_ISOLATED = (
    "the kernel ran in the fallback sandbox as the grader's own user (its Python cannot be "
    "run by the per-job uids), so it reads and writes whatever the grader can: the report "
    "says so; install bubblewrap or use a Python installation other users can read"
)
NOT_CONFINED = (
    "the kernel ran in the fallback sandbox (bubblewrap missing or not chosen): it shares the "
    "network and the file system, so isolation cannot be asserted; install bubblewrap"
)


# --------------------------------------------------------------------------- the machine


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def _slot_is_free(uid: int) -> bool:
    """No grader holds this job uid now (its slot lock can be taken)."""
    lock = sandboxing._slot_lock_dir() / f"{uid}.lock"
    if not lock.exists():
        return True
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def job_leftovers(base: Path) -> list[str]:
    """Live processes a graded notebook left behind, described; [] when there are none.

    Found by the canary every corpus process carries in its command line, a working
    folder under `base` (where the job folders were), a job marker in the environment
    together with such a folder, or a job uid no running grader holds.
    """
    job_uids = range(sandboxing.JOB_UID_BASE, sandboxing.JOB_UID_BASE + sandboxing.JOB_SLOTS)
    free: dict[int, bool] = {}
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        status = _read(f"/proc/{name}/status").decode(errors="replace")
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if not fields or fields.get("State", "").strip()[:1] in ("Z", "X"):
            continue
        uid = int(fields.get("Uid", "-1").split()[0])
        cmdline = _read(f"/proc/{name}/cmdline").replace(b"\0", b" ").decode(errors="replace")
        try:
            cwd = os.readlink(f"/proc/{name}/cwd")
        except OSError:
            cwd = ""
        reasons = []
        if CANARY in cmdline:
            reasons.append("carries the corpus canary")
        if cwd.startswith(str(base)):
            reasons.append(f"works in {cwd}")
        if uid in job_uids and free.setdefault(uid, _slot_is_free(uid)):
            reasons.append(f"runs as job uid {uid} that no grader holds")
        if reasons:
            found.append(f"pid {name} ({cmdline[:80]!r}): " + ", ".join(reasons))
    return found


def _wait_for_no_leftovers(base: Path, timeout_s: float = 20.0) -> list[str]:
    """Killed processes can take seconds to exit (a forked kernel is large)."""
    deadline = time.monotonic() + timeout_s
    leftovers = job_leftovers(base)
    while leftovers and time.monotonic() < deadline:
        time.sleep(0.25)
        leftovers = job_leftovers(base)
    return leftovers


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# --------------------------------------------------------------------------- grading


@dataclass
class Graded:
    """One batch and what was around it."""

    base: Path
    out: Path
    results: dict[str, StudentResult]
    secret: str
    seconds: float
    leftovers: list[str]
    listener_connections: int
    planted_host_files: list[str]

    def executed(self, case: str) -> str:
        """The executed notebook as written to the output folder ("" when there is none)."""
        path = self.out / "students" / self.student(case) / "executed.ipynb"
        return path.read_text(encoding="utf-8") if path.is_file() else ""

    def outputs(self, case: str) -> str:
        """Every output of the executed notebook (not the code that printed it), as JSON."""
        executed = self.executed(case)
        if not executed:
            return ""
        cells = json.loads(executed)["cells"]
        return json.dumps([c.get("outputs", []) for c in cells], ensure_ascii=False)

    def student(self, case: str) -> str:
        return next(s for s in self.results if s.split("-", 1)[1] == case)

    def result(self, case: str) -> StudentResult:
        return self.results[self.student(case)]


def _lay_out(cases: list[Case]) -> tuple[Path, Path]:
    """A base folder holding sentinels, the secret and the submissions; returns it and
    the submissions folder. Long cases are named to sort first, so the batch
    starts them first; the base is readable by others so a job uid could reach its folder."""
    base = Path(tempfile.mkdtemp(prefix="mgc-", dir="/tmp"))
    base.chmod(0o755)
    sentinel = base / "sentinel"
    sentinel.mkdir(mode=0o755)
    (sentinel / "victim.txt").write_text(VICTIM_TEXT)
    other = base / "out" / "students" / f"{CANARY}-other"
    other.mkdir(parents=True)
    (other / "results.json").write_text(OTHER_RESULTS)
    submissions = base / "submissions"
    for case in cases:
        folder = submissions / f"{0 if case.long else 1}-{case.name}"
        if case.generated:
            write_large_notebook(folder)
        else:
            folder.mkdir(parents=True)
            shutil.copy(CORPUS / case.name / NOTEBOOK_NAME, folder / NOTEBOOK_NAME)
    return base, submissions


def _grade(
    cases: list[Case],
    spec_path: Path | None,
    *,
    secret: str | None = None,
    environment: dict[str, str] | None = None,
) -> Graded:
    from grader.batch import grade_folder

    base, submissions = _lay_out(cases)
    secret_file = None
    if secret is not None:
        secret_file = base / "secret.txt"
        secret_file.write_text(secret + "\n")
        secret_file.chmod(0o600)
    spec = spec_path or write_test_spec(base, **CORPUS_LIMITS)
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    listener.setblocking(False)
    started = time.monotonic()
    try:
        # Job folders are made in TMPDIR, so they land beside the sentinels.
        with _environment(TMPDIR=str(base), **(environment or {})):
            summary = grade_folder(
                submissions,
                base / "out",
                spec_path=spec,
                secret_file=secret_file,
                workers=2,
                sandbox=SANDBOX,
                # Forcing the fallback (to test it) is an opt-out where it cannot isolate.
                allow_unisolated=SANDBOX == "fallback",
            )
        seconds = time.monotonic() - started
        connections = 0
        with contextlib.suppress(BlockingIOError):
            while True:
                listener.accept()[0].close()
                connections += 1
    finally:
        listener.close()
    planted = [str(path) for path in HOST_TARGETS if path.exists()]
    for path in HOST_TARGETS:
        with contextlib.suppress(OSError):
            path.unlink()
    return Graded(
        base=base,
        out=base / "out",
        results={r.student: r for r in summary.results},
        secret=secret or "",
        seconds=seconds,
        leftovers=_wait_for_no_leftovers(base),
        listener_connections=connections,
        planted_host_files=planted,
    )


@pytest.fixture(scope="module")
def corpus() -> Iterator[Graded]:
    """The whole corpus graded once, in one batch, with a secret seed, and with secrets
    in the grader's environment that must not reach a kernel."""
    graded = _grade(
        list(CASES),
        None,
        secret=f"corpus-secret-{secrets.token_hex(12)}",
        environment=ENV_CANARIES,
    )
    yield graded
    shutil.rmtree(graded.base, ignore_errors=True)


# --------------------------------------------------------------------------- the fixtures


def test_committed_corpus_is_what_the_builder_makes() -> None:
    for name in case_names():
        committed = (CORPUS / name / NOTEBOOK_NAME).read_bytes()
        assert committed == build_case(name), f"run python tests/corpus/build_corpus.py ({name})"


def test_every_case_has_a_row_and_the_committed_corpus_is_small() -> None:
    committed = {p.parent.name for p in CORPUS.glob(f"*/{NOTEBOOK_NAME}")}
    assert committed == set(case_names())
    assert {c.name for c in CASES} == committed | {LARGE_CASE}
    assert len(CASES) >= 20
    assert sum(p.stat().st_size for p in CORPUS.glob(f"*/{NOTEBOOK_NAME}")) < 2_000_000


def test_large_notebook_is_fifty_megabytes(tmp_path: Path) -> None:
    size = write_large_notebook(tmp_path).stat().st_size
    assert 50 * 2**20 <= size < 51 * 2**20


# --------------------------------------------------------------------------- every case


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_hostile_notebook_gets_its_exact_status_and_score_band(corpus: Graded, case: Case):
    result = corpus.result(case.name)
    assert result.status == case.status, result.status_message
    low, high = case.band
    assert low <= result.auto_score <= high, {c.name: c.points for c in result.checks}
    points = {c.name: c.points for c in result.checks}
    for check, expected in case.checks.items():
        assert points[check] == expected, (check, result.checks)
    for check, text in case.check_messages.items():
        assert text in next(c.message for c in result.checks if c.name == check)
    for text in case.message:
        assert text in result.status_message
    for text in case.notes:
        assert any(text in note for note in result.notes), result.notes
    outputs = corpus.outputs(case.name)
    if case.fatal_cell:
        # The cell the kernel died in says why (on a slow machine it may also have timed out).
        assert len([c for c in result.cells if c.status in ("error", "timeout")]) == 1
        assert case.fatal_cell in outputs
    for text in case.output_has:
        assert text in outputs
    for text in case.output_lacks:
        assert text not in outputs
    if case.max_executed_bytes:
        assert 0 < len(corpus.executed(case.name).encode()) <= case.max_executed_bytes
    folder = corpus.out / "students" / corpus.student(case.name)
    assert (folder / "report.html").is_file()
    assert json.loads((folder / "results.json").read_text())["score"] == result.score


GOLDEN_POINTS = json.loads((Path(__file__).parent / "corpus" / "golden_points.json").read_text())
"""Status and points per check of every case, recorded before the grader was split into
one package per step: the move changed where code lives, not what any case scores."""


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_hostile_notebook_scores_its_golden_points_check_by_check(corpus: Graded, case: Case):
    status, golden = GOLDEN_POINTS[case.name]
    result = corpus.result(case.name)
    points = {c.name: c.points for c in result.checks}
    assert result.status == status
    assert set(points) == set(golden)
    for name, expected in golden.items():
        # Hidden data is drawn from this run's secret: a measured check may move a little.
        tolerance = MEASURED_TOLERANCE if name in MEASURED_ON_A_MODEL else 0.0
        assert abs(points[name] - expected) <= tolerance, (name, points[name], expected)


@pytest.mark.slow
@pytest.mark.parametrize("case", [c for c in CASES if c.twin], ids=_case_id)
def test_tampering_does_not_change_what_the_grader_measures(corpus: Graded, case: Case):
    twin = corpus.result(case.twin)
    result = corpus.result(case.name)
    points = {c.name: c.points for c in result.checks}
    twin_points = {c.name: c.points for c in twin.checks}
    measured = {c.name: c.message for c in result.checks if c.name in MEASURED_CHECKS}
    twin_measured = {c.name: c.message for c in twin.checks if c.name in MEASURED_CHECKS}
    assert {k: points[k] for k in MEASURED_CHECKS} == {k: twin_points[k] for k in MEASURED_CHECKS}
    assert measured == twin_measured
    assert twin_points["hidden_roc_auc"] > 0  # the comparison means something
    if case.twin_total == "equal":
        assert points == twin_points
    else:
        assert result.auto_score == pytest.approx(
            twin.auto_score - twin_points["reported_metrics_supported"]
        )


@pytest.mark.slow
@pytest.mark.parametrize(
    "case", [c for c in CASES if c.confined_output_lacks or c.confined_output_has], ids=_case_id
)
def test_sandbox_blocks_what_the_notebook_tried(corpus: Graded, case: Case):
    if not _confined():
        pytest.skip(NOT_CONFINED)
    outputs = corpus.outputs(case.name)
    for text in case.confined_output_lacks:
        assert text not in outputs
    for text in case.confined_output_has:
        assert text in outputs


# --------------------------------------------------------------------------- the machine


@pytest.mark.slow
def test_batch_finishes_with_a_report_for_every_case(corpus: Graded):
    assert sorted(s.split("-", 1)[1] for s in corpus.results) == sorted(c.name for c in CASES)
    assert (corpus.out / "index.html").is_file() and (corpus.out / "grades.csv").is_file()
    failures = [s for s, r in corpus.results.items() if "grader failed" in r.status_message]
    assert failures == []


@pytest.mark.slow
def test_no_process_outlives_the_batch(corpus: Graded):
    assert corpus.leftovers == []


@pytest.mark.slow
def test_job_folders_are_gone(corpus: Graded):
    assert not [p.name for p in corpus.base.iterdir() if p.name.startswith("mg-")]


@pytest.mark.slow
def test_nothing_beside_the_job_folders_changed(corpus: Graded):
    if not _isolated():
        pytest.skip(NOT_ISOLATED)
    assert sorted(p.name for p in corpus.base.iterdir()) == [
        "out",
        "secret.txt",
        "sentinel",
        "submissions",
        "test_spec.toml",
    ]
    assert [p.name for p in (corpus.base / "sentinel").iterdir()] == ["victim.txt"]
    assert (corpus.base / "sentinel" / "victim.txt").read_text() == VICTIM_TEXT
    other = corpus.out / "students" / f"{CANARY}-other" / "results.json"
    assert other.read_text() == OTHER_RESULTS
    assert not [p for p in corpus.out.rglob("*") if CANARY in p.name and p != other.parent]


@pytest.mark.slow
def test_every_students_outputs_are_byte_for_byte_what_the_grader_wrote(corpus: Graded):
    """No notebook of the batch changed another student's results, report or notebook:
    each file on disk is exactly what the gradebook re-renders (or holds)."""
    if not _isolated():
        pytest.skip(NOT_ISOLATED)
    from grader.gradebook.store import Gradebook
    from grader.outputs.exports import results_json, with_manual_points
    from grader.spec import load_spec

    fingerprint = load_spec(corpus.base / "test_spec.toml").fingerprint
    with Gradebook(corpus.out / "gradebook.sqlite") as book:
        stored = {g.result.student: g for g in book.current_grades(fingerprint, full=True)}
    assert set(stored) == set(corpus.results)
    for student, grade in stored.items():
        folder = corpus.out / "students" / student
        expected = results_json(with_manual_points(grade.result, None))
        assert (folder / "results.json").read_text(encoding="utf-8") == expected, student
        if grade.executed_notebook:
            assert (folder / "executed.ipynb").read_bytes() == grade.executed_notebook, student


@pytest.mark.slow
def test_nothing_on_the_host_is_written_and_no_connection_gets_out(corpus: Graded):
    if not _confined():
        pytest.skip(NOT_CONFINED)
    assert corpus.planted_host_files == []
    assert corpus.listener_connections == 0


@pytest.mark.slow
def test_secret_never_appears_in_any_output(corpus: Graded):
    if not _isolated():
        pytest.skip(NOT_ISOLATED)
    needles = [corpus.secret, *ENV_CANARIES.values()]
    for path in corpus.out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for needle in needles:
                assert needle.encode() not in data, f"{needle[:12]}... found in {path}"
    loot = corpus.outputs("secret_hunt")
    assert "MOTIFGRADER_JOB" in loot  # the hunt ran and reported what it could see


# --------------------------------------------------------------------------- batch integrity


@pytest.mark.slow
def test_honest_notebook_scores_its_golden_points_beside_hostile_notebooks(graded_variants):
    """The variants' batch holds the quick hostile cases too: none of them may move the
    twin's grade (the corpus batch checks the machine around such cases)."""
    status, golden = STANDARD_TWIN
    beside = graded_variants["standard"]
    assert beside.status == status, beside.status_message
    points = {c.name: c.points for c in beside.checks}
    for name, expected in golden.items():
        tolerance = MEASURED_TOLERANCE if name in MEASURED_ON_A_MODEL else 0.0
        assert abs(points[name] - expected) <= tolerance, (name, points[name], expected)
    for case in (c for c in CASES if c.mixed):
        assert graded_variants[case.name].status == case.status, case.name
