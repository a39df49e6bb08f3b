"""Similarity review: copies are flagged, honest look-alikes are not, students see none of it.

Every class here is built in memory (tests/similarity_class.py) or written into a
gradebook directly; no notebook is executed.
"""

from __future__ import annotations

import json
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import numpy as np
import pytest
from click.testing import CliRunner

from grader.batch import grade_folder, write_student_outputs
from grader.checks.results import StudentResult
from grader.cli import main
from grader.grade import GradedSubmission
from grader.gradebook.store import Gradebook, GradeKey
from grader.integrity.artefacts import decode_filters, matched_filter_cosine, model_fingerprint
from grader.integrity.rank import compare_class
from grader.integrity.run import similarity_report
from grader.integrity.sources import ClassSubmission, default_starter
from grader.score.predict import ModelRun
from grader.spec import load_spec
from tests.fake_jobs import quick_job
from tests.similarity_class import build_class, honest_student, make_copy, repository_students

SPEC = load_spec()
THRESHOLDS = SPEC.similarity
# The layer that must catch each kind of planted copy, whatever the others say.
EXPECTED_LAYER = {
    "verbatim": "code",
    "renamed": "code",
    "comments": "code",
    "reordered": "code",
    "combined": "code",
    "answers": "text",
    "model_copy": "artefacts",
    "finetuned_model": "artefacts",
}


@pytest.fixture(scope="module")
def planted_class():
    synthetic = build_class(40, copies_per_kind=1, seed=3)
    starter = default_starter()
    result = compare_class(synthetic.submissions(starter), starter, THRESHOLDS)
    return synthetic, result


def _pair(result, a: str, b: str):
    key = tuple(sorted((a, b)))
    return next((p for p in result.pairs if (p.a, p.b) == key), None)


def test_every_planted_copy_is_flagged_by_the_layer_that_sees_it(planted_class):
    synthetic, result = planted_class
    copies = [s for s in synthetic.students if s.source]
    assert {s.kind for s in copies} >= set(EXPECTED_LAYER)
    for student in copies:
        pair = _pair(result, student.name, student.source)
        assert pair is not None and pair.flagged, f"{student.kind} copy not flagged"
        assert EXPECTED_LAYER[student.kind] in pair.flagged_layers, (student.kind, pair)


def test_independent_honest_work_is_not_flagged(planted_class):
    synthetic, result = planted_class
    groups = synthetic.groups
    for pair in result.flagged:
        assert any({pair.a, pair.b} <= group for group in groups), pair


def test_three_students_sharing_one_source_form_a_cluster(planted_class):
    synthetic, result = planted_class
    cluster_copies = {s.name for s in synthetic.students if s.name.startswith("cluster")}
    source = next(s.source for s in synthetic.students if s.name.startswith("cluster"))
    assert any(cluster_copies | {source} <= set(c) for c in result.clusters), result.clusters


def test_model_copy_evidence_names_identical_weights_not_a_verdict(planted_class):
    synthetic, result = planted_class
    student = next(s for s in synthetic.students if s.kind == "model_copy")
    pair = _pair(result, student.name, student.source)
    text = " ".join(pair.evidence)
    assert "identical trained weights" in text and "identical predictions" in text
    assert "cheat" not in text.lower()


def test_samples_built_from_the_starter_are_not_similar_and_corpus_twins_are():
    starter = default_starter()
    members, twins = repository_students(starter)
    result = compare_class(members, starter, THRESHOLDS)
    flagged = {(p.a, p.b) for p in result.flagged}
    samples = [m.student for m in members if m.student.startswith("sample_")]
    assert len(samples) == 7
    assert not any(a in samples or b in samples for a, b in flagged), flagged
    assert twins and twins <= flagged


def test_unmodified_starters_share_their_model_without_being_flagged():
    starter = default_starter()
    notebook = nbformat.read(str(Path("reference/notebooks/starter.ipynb")), as_version=4)
    same_model = {"weights_digest": "w" * 32, "predictions_digest": "p" * 32}
    students = [
        ClassSubmission.from_notebook(f"starter{i}", notebook, starter, fingerprint=same_model)
        for i in range(3)
    ]
    assert all(s.model_from_starter for s in students)
    assert compare_class(students, starter, THRESHOLDS).flagged == []


def test_quoting_the_question_is_not_a_match():
    starter = default_starter()
    question = (
        "Try adding Gaussian noise to negative sequences or implant the motif with "
        "probability < 1. How do results change?"
    )
    answers = [
        "My AUC fell to 0.71 when half the positives lacked it, and noise made it trivial.",
        "Label noise lowers the ceiling; noise only on negatives gives a shortcut of 1.0.",
    ]
    students = []
    for i, own in enumerate(answers):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"x = {i}")])
        nb.cells.append(nbformat.v4.new_markdown_cell(f"Answer Q4\n\n{question} {own}"))
        students.append(ClassSubmission.from_notebook(f"s{i}", nb, starter))
    result = compare_class(students, starter, THRESHOLDS)
    assert all(p.text == 0 for p in result.pairs)


def test_filters_match_up_to_their_order():
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(9, 4, 16)).astype(np.float32)
    run = ModelRun("model", loaded=True, info={"weights_digest": "abc"})
    run.kernel = kernel
    run.predictions["main"] = rng.random(50)
    shuffled = ModelRun("model", loaded=True)
    shuffled.kernel = kernel[:, :, rng.permutation(16)]
    a, b = (decode_filters(model_fingerprint(r)) for r in (run, shuffled))
    assert matched_filter_cosine(a, b) == pytest.approx(1.0, abs=1e-3)
    fingerprint = model_fingerprint(run)
    assert fingerprint["weights_digest"] == "abc" and len(fingerprint["predictions_digest"]) == 32
    assert model_fingerprint(None) == {}


def test_similarity_thresholds_do_not_change_which_grades_are_reused():
    changed = SPEC.model_copy(
        update={"similarity": THRESHOLDS.model_copy(update={"code_flag": 0.99})}
    )
    assert changed.fingerprint == SPEC.fingerprint


# --------------------------------------------------------------------------- from a gradebook


def _record_class(book: Path) -> list[StudentResult]:
    source = honest_student("alice", 14)  # trains a model of her own
    students = [
        source,
        make_copy("renamed", "bob", source, 12),
        make_copy("model_copy", "carol", source, 13),
        honest_student("dave", 11),
    ]
    results = []
    with Gradebook(book) as gradebook:
        run_id = gradebook.start_run(
            submissions="x",
            spec_fingerprint=SPEC.fingerprint,
            grader_version="t",
            seed_kind="development",
            workers=1,
        )
        for student in students:
            result = StudentResult(
                student=student.name,
                status="ok",
                status_message="ran",
                checks=(),
                details={"answers": {}, "integrity": student.fingerprint},
            )
            key = GradeKey(student.name, student.name, SPEC.fingerprint, "t", "seed")
            gradebook.record(key, result, nbformat.writes(student.notebook).encode(), run_id)
            results.append(result)
    return results


def test_similarity_command_writes_pages_from_the_gradebook(tmp_path: Path):
    _record_class(tmp_path / "gradebook.sqlite")
    summary = similarity_report(out_dir=tmp_path)
    assert summary.students == 4 and summary.flagged >= 3 and summary.clusters == 1
    index = summary.index_path.read_text()
    assert "similar, review" in index and "cheat" not in index.lower()
    data = json.loads((tmp_path / "similarity" / "similarity.json").read_text())
    flagged = {(p["a"], p["b"]) for p in data["pairs"] if p["flagged"]}
    assert flagged == {("alice", "bob"), ("alice", "carol"), ("bob", "carol")}
    assert data["clusters"] == [["alice", "bob", "carol"]]
    page = (tmp_path / "similarity" / "pairs" / "alice__bob.html").read_text()
    assert page.count("<mark>") > 3 and "similar, review" in page


def test_nothing_of_the_review_reaches_what_students_receive(tmp_path: Path):
    results = _record_class(tmp_path / "gradebook.sqlite")
    similarity_report(out_dir=tmp_path)
    for result in results:
        written = write_student_outputs(tmp_path, GradedSubmission(result), SPEC)
        folder = tmp_path / "students" / written.student
        for name in ("report.html", "results.json"):
            text = (folder / name).read_text()
            assert "similar" not in text.lower(), name
            for value in result.details["integrity"].values():
                assert str(value)[:16] not in text, name
    from grader.student.bundle import write_student_bundle

    bundle = tmp_path / "bundle"
    for path in write_student_bundle(bundle):
        names = zipfile.ZipFile(path).namelist() if path.suffix == ".whl" else [path.name]
        assert not any("similarity.json" in n or n.endswith("pairs") for n in names)
        if path.suffix != ".whl":
            assert "similar, review" not in path.read_text(errors="replace")


def test_cli_without_a_gradebook_is_misuse(tmp_path: Path):
    outcome = CliRunner().invoke(main, ["similarity", "--out", str(tmp_path)])
    assert outcome.exit_code == 2
    assert "gradebook" in outcome.output and "Traceback" not in outcome.output


def test_every_grade_run_refreshes_the_review_linked_from_the_class_index(tmp_path: Path):
    subs = tmp_path / "subs"
    for student in (honest_student("erin", 21), honest_student("frank", 22)):
        (subs / student.name).mkdir(parents=True)
        nbformat.write(student.notebook, subs / student.name / "hw4.ipynb")
    with ThreadPoolExecutor(max_workers=1) as pool:
        grade_folder(subs, tmp_path / "out", executor=pool, job=quick_job)
    assert (tmp_path / "out" / "similarity" / "index.html").is_file()
    assert 'href="similarity/index.html"' in (tmp_path / "out" / "index.html").read_text()
