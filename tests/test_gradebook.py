"""The gradebook keeps every finished grade, re-uses unchanged ones and keeps hand grades."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from grader.batch import grade_folder, rerender
from grader.gradebook.manual import ManualGradeError, export_sheet, import_sheet
from grader.gradebook.store import Gradebook
from grader.spec import load_spec
from tests.fake_jobs import always_raises_job, dies_once_job, quick_job

ROOT = Path(__file__).resolve().parent.parent


def _write_class(folder: Path, n: int, answer: str = "An answer.") -> None:
    for i in range(n):
        nb = nbformat.v4.new_notebook(
            cells=[
                nbformat.v4.new_code_cell(f"student_number = {i}"),
                nbformat.v4.new_markdown_cell(f"Answer Q1\n{answer} ({i})"),
            ]
        )
        (folder / f"student{i:02d}").mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / f"student{i:02d}" / "hw4.ipynb")


class CountingJob:
    """Counts calls; used through a thread pool so the count is visible here."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, submission, *args):
        self.calls.append(submission.student)
        return quick_job(submission, *args)


def _grade(subs: Path, out: Path, job, **kwargs):
    with ThreadPoolExecutor(max_workers=2) as pool:
        return grade_folder(subs, out, executor=pool, job=job, **kwargs)


def test_rerun_reuses_unchanged_grades_and_regrades_changed_ones(tmp_path: Path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    _write_class(subs, 3)
    first = CountingJob()
    summary = _grade(subs, out, first)
    assert sorted(first.calls) == ["student00", "student01", "student02"]
    assert summary.graded == 3 and summary.reused == 0

    again = CountingJob()
    summary = _grade(subs, out, again)
    assert again.calls == [] and summary.reused == 3
    assert (out / "students" / "student01" / "report.html").is_file()

    nb = nbformat.read(subs / "student01" / "hw4.ipynb", 4)
    nb.cells.append(nbformat.v4.new_code_cell("x = 1"))
    nbformat.write(nb, subs / "student01" / "hw4.ipynb")
    changed = CountingJob()
    _grade(subs, out, changed)
    assert changed.calls == ["student01"]

    forced = CountingJob()
    _grade(subs, out, forced, force=True)
    assert sorted(forced.calls) == ["student00", "student01", "student02"]
    with Gradebook(out / "gradebook.sqlite") as gradebook:
        runs = gradebook.runs()
        assert [(r["graded"], r["reused"]) for r in runs] == [(3, 0), (0, 3), (1, 2), (3, 0)]
        assert gradebook.count_grades() == 4  # student01 has two versions


def test_grades_made_with_another_seed_are_not_reused(tmp_path: Path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    _write_class(subs, 2)
    _grade(subs, out, CountingJob())
    secret = tmp_path / "secret.txt"
    secret.write_text("the real secret")
    with_secret = CountingJob()
    summary = _grade(subs, out, with_secret, secret_file=secret)
    assert len(with_secret.calls) == 2 and summary.seed_kind == "secret"


def test_killing_the_grader_loses_no_finished_grade_and_regrades_nothing_finished(
    tmp_path: Path,
):
    subs, out = tmp_path / "subs", tmp_path / "out"
    _write_class(subs, 8)
    script = (
        "from grader.batch import grade_folder\n"
        "from tests.fake_jobs import quick_job\n"
        f"grade_folder({str(subs)!r}, {str(out)!r}, workers=2, job=quick_job)\n"
    )
    env = {**os.environ, "MOTIFGRADER_FAKE_JOB_SLEEP": "1.5", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, env=env, start_new_session=True
    )
    database = out / "gradebook.sqlite"
    deadline = time.monotonic() + 120
    finished = 0
    while time.monotonic() < deadline and finished < 3:
        time.sleep(0.3)
        if database.exists():
            try:
                with sqlite3.connect(database) as db:
                    finished = db.execute("SELECT COUNT(*) FROM grades").fetchone()[0]
            except sqlite3.OperationalError:
                finished = 0
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert 3 <= finished < 8, "the run should be killed part-way"
    with Gradebook(database) as gradebook:
        kept = {g.key.student for g in gradebook.current_grades(load_spec().fingerprint)}
    assert len(kept) >= finished

    rerun = CountingJob()
    summary = _grade(subs, out, rerun)
    assert not set(rerun.calls) & kept
    assert len(rerun.calls) == 8 - len(kept)
    assert len(summary.results) == 8
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert len(rows) == 8


def test_a_worker_that_dies_is_retried_on_a_fresh_process(tmp_path: Path, monkeypatch):
    subs, out = tmp_path / "subs", tmp_path / "out"
    _write_class(subs, 2)
    markers = tmp_path / "markers"
    markers.mkdir()
    monkeypatch.setenv("MOTIFGRADER_FAKE_MARKERS", str(markers))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    summary = grade_folder(subs, out, workers=1, job=dies_once_job)
    assert sorted(p.name for p in markers.iterdir()) == ["student00", "student01"]
    assert all(r.status == "ok" for r in summary.results)


def test_a_job_that_keeps_failing_still_gives_the_student_a_report(tmp_path: Path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    _write_class(subs, 1)
    summary = _grade(subs, out, always_raises_job)
    [result] = summary.results
    assert result.status == "died" and "not your fault" in result.status_message
    assert (out / "students" / "student00" / "report.html").is_file()
    with Gradebook(out / "gradebook.sqlite") as gradebook:
        assert gradebook.count_grades() == 0  # retried next run, never stored as final


def test_manual_grades_round_trip_and_survive_regrading(tmp_path: Path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    _write_class(subs, 2, answer="The model has 913 parameters.")
    _grade(subs, out, CountingJob())
    spec = load_spec()
    sheet = tmp_path / "sheet.csv"
    with Gradebook(out / "gradebook.sqlite") as gradebook:
        assert export_sheet(gradebook, spec, sheet) == 12
    rows = list(csv.DictReader(sheet.open()))
    assert rows[0]["answer"] == "The model has 913 parameters. (0)"
    for row in rows:
        if row["student"] == "student00" and row["question"] == "Q1":
            row["points"], row["comment"] = "4", "Good, but name the hyper-parameters."
    with sheet.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with Gradebook(out / "gradebook.sqlite") as gradebook:
        summary = import_sheet(gradebook, spec, sheet)
    assert summary.imported == 1 and summary.skipped_blank == 11
    rerender(out)
    grades = {r["student"]: r for r in csv.DictReader((out / "grades.csv").open())}
    assert float(grades["student00"]["score"]) == float(grades["student00"]["auto_score"]) + 4
    assert "name the hyper-parameters" in (out / "students/student00/report.html").read_text()

    _grade(subs, out, CountingJob(), force=True)
    grades = {r["student"]: r for r in csv.DictReader((out / "grades.csv").open())}
    assert float(grades["student00"]["Q1"]) >= 4


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"points": "7"}, "outside 0..5"),
        ({"points": "lots"}, "not a number"),
        ({"student": "nobody"}, "no graded student"),
        ({"question": "Q9"}, "not a hand-graded question"),
    ],
)
def test_a_bad_sheet_is_rejected_whole_with_the_line_named(tmp_path: Path, edit, message):
    subs, out = tmp_path / "subs", tmp_path / "out"
    _write_class(subs, 1)
    _grade(subs, out, CountingJob())
    sheet = tmp_path / "sheet.csv"
    spec = load_spec()
    with Gradebook(out / "gradebook.sqlite") as gradebook:
        export_sheet(gradebook, spec, sheet)
        rows = list(csv.DictReader(sheet.open()))
        rows[0]["points"] = "3"
        rows[-1].update(edit)
        with sheet.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        with pytest.raises(ManualGradeError, match=message):
            import_sheet(gradebook, spec, sheet)
        assert gradebook.manual() == {}


def test_canvas_export_has_points_possible_and_one_score_per_student(tmp_path: Path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    _write_class(subs, 2)
    _grade(subs, out, CountingJob())
    rows = list(csv.reader((out / "canvas.csv").open()))
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert rows[1][0] == "Points Possible" and rows[1][5] == "130"
    assert [r[3] for r in rows[2:]] == ["student00", "student01"]
