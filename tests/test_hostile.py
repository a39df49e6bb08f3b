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

import json
from pathlib import Path

import pytest

from grader.run import detect
from grader.run import sandbox as sandboxing
from tests.corpus.build_corpus import (
    CANARY,
    CORPUS,
    LARGE_CASE,
    NOTEBOOK_NAME,
    build_case,
    case_names,
    write_large_notebook,
)
from tests.corpus.cases import CASES, MEASURED_CHECKS, Case
from tests.corpus.grade_corpus import OTHER_RESULTS, SANDBOX, VICTIM_TEXT, Graded
from tests.golden_scores import MEASURED_CHECKS as MEASURED_ON_A_MODEL
from tests.golden_scores import MEASURED_TOLERANCE, STANDARD_TWIN


def _case_id(case: Case) -> str:
    return case.name


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


@pytest.fixture
def corpus(hostile_corpus: Graded) -> Graded:
    """The whole corpus, graded once per session, in the background, with a secret seed
    and with secrets in the grader's environment that must not reach a kernel."""
    return hostile_corpus


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
    needles = [corpus.secret, *corpus.canaries.values()]
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
