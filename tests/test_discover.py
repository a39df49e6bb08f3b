"""Discovery finds one notebook per student in every layout an instructor meets."""

import zipfile
from pathlib import Path

from grader.intake.discover import discover_submissions, safe_student_id

NOTEBOOK = b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}'


def test_folder_per_student_with_pdf_beside_the_notebook(tmp_path: Path):
    (tmp_path / "ada").mkdir()
    (tmp_path / "ada" / "hw4.ipynb").write_bytes(NOTEBOOK)
    (tmp_path / "ada" / "report.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "ada" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "ada" / ".ipynb_checkpoints" / "hw4-checkpoint.ipynb").write_bytes(NOTEBOOK)
    [sub] = discover_submissions(tmp_path)
    assert sub.student == "ada" and sub.notebook_name == "hw4.ipynb"
    assert sub.pdf_name == "report.pdf" and sub.runnable


def test_flat_notebooks_are_named_after_the_file(tmp_path: Path):
    (tmp_path / "grace hopper.ipynb").write_bytes(NOTEBOOK)
    [sub] = discover_submissions(tmp_path)
    assert sub.student == "grace_hopper" and sub.notebook_bytes == NOTEBOOK


def test_folder_without_notebook_is_missing_and_with_two_is_invalid(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hi")
    (tmp_path / "twice").mkdir()
    (tmp_path / "twice" / "a.ipynb").write_bytes(NOTEBOOK)
    (tmp_path / "twice" / "b.ipynb").write_bytes(NOTEBOOK)
    subs = {s.student: s for s in discover_submissions(tmp_path)}
    assert subs["empty"].problem_status == "missing"
    assert subs["twice"].problem_status == "invalid"
    assert "a.ipynb, b.ipynb" in subs["twice"].problem


def test_canvas_style_zip_export_maps_files_to_students(tmp_path: Path):
    export = tmp_path / "submissions.zip"
    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr("lovelaceada_1234_5678_hw4.ipynb", NOTEBOOK)
        archive.writestr("hoppergrace_LATE_2345_6789_homework.ipynb", NOTEBOOK)
        archive.writestr("__MACOSX/._junk.ipynb", b"junk")
    subs = discover_submissions(export)
    assert [s.student for s in subs] == ["hoppergrace", "lovelaceada"]
    assert all(s.runnable for s in subs)


def test_zip_with_a_folder_per_student(tmp_path: Path):
    export = tmp_path / "export.zip"
    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr("alan/hw4.ipynb", NOTEBOOK)
        archive.writestr("barbara/hw4.ipynb", NOTEBOOK)
        archive.writestr("barbara/answers.pdf", b"%PDF")
    subs = {s.student: s for s in discover_submissions(export)}
    assert set(subs) == {"alan", "barbara"} and subs["barbara"].pdf_name == "answers.pdf"


def test_student_zip_inside_the_folder_is_that_students_submission(tmp_path: Path):
    with zipfile.ZipFile(tmp_path / "edsger.zip", "w") as archive:
        archive.writestr("hw4/hw4.ipynb", NOTEBOOK)
    [sub] = discover_submissions(tmp_path)
    assert sub.student == "edsger" and sub.runnable


def test_corrupt_zip_is_an_invalid_submission_not_a_crash(tmp_path: Path):
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 this is not a zip")
    [sub] = discover_submissions(tmp_path)
    assert sub.problem_status == "invalid" and "could not be opened" in sub.problem


def test_zip_paths_cannot_escape_and_are_never_extracted(tmp_path: Path):
    export = tmp_path / "evil.zip"
    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr("../../etc/evil/hw4.ipynb", NOTEBOOK)
        archive.writestr("mallory/hw4.ipynb", NOTEBOOK)
    subs = discover_submissions(export)
    assert all("/" not in s.student and ".." not in s.student for s in subs)
    assert not (tmp_path.parent / "etc").exists()


def test_student_ids_are_safe_folder_names():
    assert safe_student_id("../../etc/passwd") == "etc_passwd"
    assert safe_student_id("Zoë O'Brien") == "Zo_O_Brien"
    assert safe_student_id("...") == "student"
