"""The grader's own failures are recorded for the instructor: OUT/grader.log holds every
crashed check and infrastructure error with its traceback, and the class index lists the
crashed checks ("your instructor has been told" is true)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

from grader.batch import RUN_LOG_NAME, grade_folder
from grader.checks import registry
from tests.fake_jobs import always_raises_job, quick_job


def _one_student(folder: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    (folder / "ada").mkdir(parents=True)
    nbformat.write(nb, folder / "ada" / "hw4.ipynb")


def _grade(subs: Path, out: Path, job):
    with ThreadPoolExecutor(max_workers=1) as pool:
        return grade_folder(subs, out, executor=pool, job=job)


def test_a_crashed_check_is_in_grader_log_and_on_the_class_index(tmp_path, monkeypatch):
    def crashing_check(ctx):
        raise ZeroDivisionError("weights summed to nothing")

    monkeypatch.setitem(registry.registered_checks(), "kernel_sweep", crashing_check)
    subs, out = tmp_path / "subs", tmp_path / "out"
    _one_student(subs)
    summary = _grade(subs, out, quick_job)

    result = next(c for c in summary.results[0].checks if c.name == "kernel_sweep")
    assert result.status == "error" and "instructor has been told" in result.message
    log = (out / RUN_LOG_NAME).read_text(encoding="utf-8")
    assert "ada: check kernel_sweep crashed" in log
    assert "Traceback (most recent call last)" in log
    assert "ZeroDivisionError: weights summed to nothing" in log
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'id="crashed-checks"' in index
    assert "Kernel-size sweep below and above the motif length" in index


def test_a_clean_run_lists_no_crashed_checks(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    _one_student(subs)
    _grade(subs, out, quick_job)
    assert "crashed" not in (out / RUN_LOG_NAME).read_text(encoding="utf-8")
    assert 'id="crashed-checks"' not in (out / "index.html").read_text(encoding="utf-8")


def test_an_infrastructure_error_is_in_grader_log_with_its_traceback(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    _one_student(subs)
    _grade(subs, out, always_raises_job)
    log = (out / RUN_LOG_NAME).read_text(encoding="utf-8")
    assert "ada: grading job failed for good" in log
    assert "RuntimeError: the grading machine lost its disk" in log
    assert "Traceback (most recent call last)" in log
