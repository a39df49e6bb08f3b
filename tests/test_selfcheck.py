"""The student's self-check, `motifgrader check`, the student bundle and the CI templates.

Most tests replace `grade_submission` with a function that returns a prepared
result, so they check the self-check's rules and outputs in milliseconds; the slow
ones run the workflows' own shell commands on a small real notebook (about 15 s each; the
student workflow's step runs once and two tests read it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import nbformat
import pytest
from click.testing import CliRunner

from grader.checks.results import CheckResult, StudentResult
from grader.cli import main
from grader.grade import GradedSubmission
from grader.harvest.contract import MODEL_NAMES, VALUE_NAMES
from grader.spec import SECRET_ENV, load_spec
from grader.student import selfcheck
from grader.student.bundle import (
    STUDENT_WHEEL_EXCLUDES,
    BundleError,
    build_student_wheel,
    ci_template,
    requirement_for,
    student_wheel_files,
    write_student_bundle,
)
from grader.student.selfcheck import HIDDEN_CHECK_INPUTS, check_notebook, verdict_for
from tests.golden_scores import HIDDEN_POINTS, PUBLIC_POINTS, STARTER_PUBLIC_POINTS

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "reference" / "notebooks" / "starter.ipynb"
SOLUTION = ROOT / "reference" / "notebooks" / "solution.ipynb"
SPEC = load_spec()

# --------------------------------------------------------------------------- helpers


def fast_notebook(path: Path) -> Path:
    """A notebook that runs in seconds: the starter's functions, an untrained `model`,
    a kernel sweep below the motif only and a plausible noise experiment, both typed into
    the code (so both fail: not measured), and only the Q1 answer: 6 checks pass, 11 fail,
    4 hidden ones are skipped."""
    starter = nbformat.read(STARTER, as_version=4)
    wanted = (
        "def one_hot_encode_seqs",
        "def generate_synthetic_dataset",
        "def build_deepbind_like_model",
        "def build_pwm",
    )
    notebook = nbformat.v4.new_notebook()
    for cell in starter.cells:
        if cell.cell_type == "code" and any(w in cell.source for w in wanted):
            notebook.cells.append(nbformat.v4.new_code_cell(cell.source.split("\nmodel = ")[0]))
    notebook.cells.append(
        nbformat.v4.new_code_cell(
            "model = build_deepbind_like_model(101, num_filters=4, kernel_size=8)\n"
            "kernel_results = {3: {'roc_auc': 0.80, 'pr_auc': 0.79}}\n"
            "noise_results = [\n"
            "    {'motif_prob': 0.5, 'noise_std': 0.0, 'roc_auc': 0.70, 'pr_auc': 0.70},\n"
            "    {'motif_prob': 1.0, 'noise_std': 0.3, 'roc_auc': 0.90, 'pr_auc': 0.90},\n"
            "]\n"
        )
    )
    notebook.cells.append(
        nbformat.v4.new_markdown_cell(
            "Answer Q1\n\nThe model has 325 parameters: 132 in the convolution, 193 in the "
            "dense layers."
        )
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


FAST_NOTEBOOK_VERDICTS = {
    "notebook_runs": "passed",
    "generator_matches_assignment": "passed",
    "one_hot_encoder": "passed",
    "build_pwm_function": "passed",
    "parameter_count": "passed",
    "training_curves": "failed",
    "hidden_roc_auc": "skipped",
    "hidden_pr_auc": "skipped",
    "reported_metrics_supported": "failed",
    "kernel_sweep": "failed",
    "motif_recovered": "skipped",
    "noise_experiment": "failed",  # its values are typed into the code, not measured
    "multi_motif_specialisation": "failed",
    "interaction_captured": "failed",
    "stress_suite": "skipped",
    "answer_q1": "passed",
    "answer_q2": "failed",
    "answer_q3": "failed",
    "answer_q4": "failed",
    "answer_q5": "failed",
    "answer_q6": "failed",
}


def check_result(check_id: str, status: str, points: float | None = None, **extra) -> CheckResult:
    spec = SPEC.check(check_id)
    if points is None:
        points = spec.points if status == "passed" else 0.0
    return CheckResult(
        name=check_id,
        title=spec.title,
        question=spec.question,
        points=points,
        max_points=spec.points,
        status=status,  # type: ignore[arg-type]
        message=extra.pop("message", f"{check_id} says what to do."),
        visibility=spec.visibility,
        kind=spec.kind,
        **extra,
    )


ALL_PRESENT = {name: {"present": True, "ok": True, "problem": ""} for name in VALUE_NAMES}
ALL_PRESENT.update({name: {"present": True, "ok": True, "problem": ""} for name in MODEL_NAMES})


def graded(statuses: dict[str, str] | None = None, inputs: dict | None = None) -> GradedSubmission:
    """Every check passed (answers present, hidden skipped) unless `statuses` says otherwise."""
    statuses = statuses or {}
    checks = []
    for spec in SPEC.checks:
        if spec.visibility == "hidden":
            checks.append(check_result(spec.id, "skipped"))
        elif spec.kind == "manual":
            text = "" if statuses.get(spec.id) == "failed" else "An answer of five words."
            checks.append(check_result(spec.id, "manual", evidence={"text": text}))
        else:
            checks.append(check_result(spec.id, statuses.get(spec.id, "passed")))
    inputs = ALL_PRESENT if inputs is None else inputs
    details = {
        "contract": {k: v for k, v in inputs.items() if k in VALUE_NAMES},
        "models": {k: v for k, v in inputs.items() if k in MODEL_NAMES},
    }
    result = StudentResult("hw4", "ok", "ran", tuple(checks), details=details)
    return GradedSubmission(result, executed_notebook=b'{"cells": []}')


class FakeGrader:
    """Stands in for `grade_submission` and remembers how it was called."""

    def __init__(self, answer: GradedSubmission) -> None:
        self.answer = answer
        self.calls: list[tuple] = []

    def __call__(self, submission, spec, seed, options, expectations=None) -> GradedSubmission:
        self.calls.append((submission, spec, seed, options))
        return self.answer


@pytest.fixture
def notebook_file(tmp_path: Path) -> Path:
    path = tmp_path / "hw4.ipynb"
    shutil.copyfile(STARTER, path)
    return path


# --------------------------------------------------------------------------- verdicts


def test_full_credit_passes_with_the_checks_own_message() -> None:
    verdict = verdict_for(check_result("kernel_sweep", "passed", message="All plausible."))
    assert (verdict.verdict, verdict.message) == ("passed", "All plausible.")


def test_partial_credit_is_a_failure_that_states_the_points() -> None:
    partial = check_result("kernel_sweep", "partial", 8.0, message="Add a width above 5.")
    verdict = verdict_for(partial)
    assert verdict.verdict == "failed"
    assert verdict.message == "partial credit, 8 of 10 points. Add a width above 5."
    assert (
        verdict.headline == "Q2 · Kernel-size sweep below and above the motif length: 8 / 10 points"
    )


def test_zero_credit_failure_states_the_points_and_the_reason() -> None:
    failed = check_result("training_curves", "failed", message="`history` is not defined.")
    assert verdict_for(failed).message == "0 of 2 points. `history` is not defined."


def test_a_check_the_grader_could_not_run_is_a_failure() -> None:
    broken = check_result("kernel_sweep", "error", message="The grader failed on this check.")
    assert verdict_for(broken).verdict == "failed"


def test_written_answer_passes_when_present_and_says_a_person_grades_it() -> None:
    answer = check_result("answer_q2", "manual", evidence={"text": "Wider kernels recover it."})
    verdict = verdict_for(answer)
    assert verdict.verdict == "passed"
    assert verdict.message.startswith("Answer found (4 words). A person grades it (up to 5")


def test_missing_written_answer_fails_saying_which_cell_to_fill() -> None:
    answer = check_result("answer_q5", "manual", evidence={"text": ""})
    verdict = verdict_for(answer)
    assert verdict.verdict == "failed"
    assert "No written answer for Q5 yet (5 points" in verdict.message
    assert "'Answer Q5'" in verdict.message


def test_hidden_check_is_skipped_when_what_it_reads_is_in_place() -> None:
    verdict = verdict_for(check_result("hidden_roc_auc", "skipped"), ALL_PRESENT)
    assert verdict.verdict == "skipped"
    assert verdict.message.startswith("Hidden check (15 points): it runs only when")


def test_hidden_check_fails_naming_what_to_add_when_its_inputs_are_missing() -> None:
    inputs = {
        **ALL_PRESENT,
        "multi_model": {"present": False, "ok": False, "problem": "`multi_model` is not defined"},
    }
    verdict = verdict_for(check_result("multi_motif_specialisation", "skipped"), inputs)
    assert verdict.verdict == "failed"
    assert "can earn nothing as the notebook stands: `multi_model` is not defined." in (
        verdict.message
    )


def test_interaction_check_accepts_multi_motifs_in_place_of_interaction_motifs() -> None:
    missing = {"present": False, "ok": False, "problem": "`interaction_motifs` is not defined"}
    inputs = {**ALL_PRESENT, "interaction_motifs": missing}
    check = check_result("interaction_captured", "skipped")
    assert verdict_for(check, inputs).verdict == "skipped"
    no_multi = {"present": True, "ok": False, "problem": "`multi_motifs` is empty"}
    verdict = verdict_for(check, {**inputs, "multi_motifs": no_multi})
    assert verdict.verdict == "failed"
    assert "`interaction_motifs` is not defined or `multi_motifs` is empty" in verdict.message


def test_every_hidden_check_declares_the_contract_names_it_reads() -> None:
    hidden = {c.id for c in SPEC.checks if c.visibility == "hidden"}
    assert set(HIDDEN_CHECK_INPUTS) == hidden
    names = {n for reqs in HIDDEN_CHECK_INPUTS.values() for r in reqs for n in r.split("|")}
    assert names <= set(VALUE_NAMES) | set(MODEL_NAMES)


# --------------------------------------------------------------------------- check_notebook


def test_self_check_runs_the_grader_without_hidden_checks_on_the_development_seed(
    notebook_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "instructor-secret-never-in-a-self-check")
    fake = FakeGrader(graded())
    outcome = check_notebook(notebook_file, grade=fake)
    ((submission, _spec, seed, options),) = fake.calls
    assert submission.student == "hw4"
    assert submission.notebook_bytes == STARTER.read_bytes()
    assert seed.kind == "development"
    assert seed.material == str(SPEC.assignment.development_seed)
    assert options.include_hidden is False
    assert outcome.exit_code == 0
    assert outcome.report_path is None


def test_self_check_writes_report_results_notebook_and_summary(
    notebook_file: Path, tmp_path: Path
) -> None:
    fake = FakeGrader(graded({"kernel_sweep": "partial"}))
    outcome = check_notebook(notebook_file, out_dir=tmp_path / "out", grade=fake)
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["executed.ipynb", "report.html", "results.json", "summary.md"]
    assert outcome.report_path == tmp_path / "out" / "report.html"
    assert json.loads((tmp_path / "out" / "results.json").read_text())["tests"]
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert (
        "| ❌ fail | Q2 | Kernel-size sweep below and above the motif length | 0 / 10 |" in summary
    )


def test_exit_code_is_one_when_a_public_check_fails(notebook_file: Path) -> None:
    outcome = check_notebook(notebook_file, grade=FakeGrader(graded({"answer_q3": "failed"})))
    assert [v.name for v in outcome.failed] == ["answer_q3"]
    assert outcome.exit_code == 1


def test_summary_shows_points_per_check_and_the_public_total(notebook_file: Path) -> None:
    outcome = check_notebook(notebook_file, grade=FakeGrader(graded({"kernel_sweep": "partial"})))
    lines = selfcheck.summary_lines(outcome)
    assert "  FAIL  Q2         0/10  kernel_sweep" in lines
    assert "  SKIP  Q2         -/15  hidden_roc_auc" in lines
    assert "  PASS  Q1          -/5  answer_q1" in lines
    sweep = load_spec().check("kernel_sweep").points
    assert lines[-1].startswith(
        f"Public automatic checks: {PUBLIC_POINTS - sweep:g} / {PUBLIC_POINTS:g} points. "
        f"Hidden checks ({HIDDEN_POINTS:g}"
    )


def test_a_missing_notebook_is_the_callers_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"is not a \.ipynb notebook file"):
        check_notebook(tmp_path / "absent.ipynb", grade=FakeGrader(graded()))


# --------------------------------------------------------------------------- CLI


def test_check_command_exits_1_and_lists_what_to_fix(
    notebook_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = graded({"noise_experiment": "failed", "answer_q4": "failed"})
    monkeypatch.setattr(selfcheck, "grade_submission", FakeGrader(answer))
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["check", str(notebook_file), "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert "2 checks to fix" in result.output
    assert "0 of 10 points. noise_experiment says what to do." in result.output
    assert (out / "report.html").is_file()


def test_check_command_exits_0_when_every_public_check_passes(
    notebook_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selfcheck, "grade_submission", FakeGrader(graded()))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["check", str(notebook_file)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "selfcheck" / "hw4" / "report.html").is_file()


def test_check_command_exits_2_for_an_unreadable_spec(notebook_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[assignment\n")
    result = CliRunner().invoke(main, ["check", str(notebook_file), "--spec", str(bad)])
    assert result.exit_code == 2
    assert "is not valid TOML" in " ".join(result.output.split())


# --------------------------------------------------------------------------- bundle


def test_bundle_holds_starter_readme_requirements_workflow_and_wheel(tmp_path: Path) -> None:
    paths = write_student_bundle(tmp_path / "bundle")
    names = sorted(p.relative_to(tmp_path / "bundle").as_posix() for p in paths)
    assert names == [
        ".github/workflows/selfcheck.yml",
        ".gitignore",
        "README.md",
        "constraints.txt",
        "hw4.ipynb",
        "requirements.txt",
        "wheels/motifgrader-0.1.0-py3-none-any.whl",
    ]
    bundle = tmp_path / "bundle"
    assert (bundle / "hw4.ipynb").read_bytes() == STARTER.read_bytes()
    assert (bundle / "requirements.txt").read_text().splitlines()[2:] == [
        "-c constraints.txt",
        "./wheels/motifgrader-0.1.0-py3-none-any.whl",
        "pytest>=8.0",
    ]
    readme = (bundle / "README.md").read_text()
    assert "pytest --notebook hw4.ipynb" in readme
    assert "motifgrader check hw4.ipynb" in readme
    assert (bundle / ".github/workflows/selfcheck.yml").read_text() == ci_template("student")


def _all_bytes(folder: Path) -> list[tuple[str, bytes]]:
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            found.append((path.name, data))
            if path.suffix == ".whl":
                with zipfile.ZipFile(path) as archive:
                    found += [(n, archive.read(n)) for n in archive.namelist()]
    return found


def test_bundle_contains_no_secret_seed_and_no_solution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "course-secret-5f1c9a"
    monkeypatch.setenv(SECRET_ENV, secret)
    write_student_bundle(tmp_path / "bundle")
    contents = _all_bytes(tmp_path / "bundle")
    solution = hashlib.sha256(SOLUTION.read_bytes()).hexdigest()
    assert not [name for name, data in contents if secret.encode() in data]
    assert not [name for name, data in contents if hashlib.sha256(data).hexdigest() == solution]
    names = {name for name, _ in contents}
    assert not names & {Path(p).name for p in STUDENT_WHEEL_EXCLUDES}
    with zipfile.ZipFile(next((tmp_path / "bundle" / "wheels").glob("*.whl"))) as archive:
        members = set(archive.namelist())
    assert not members & STUDENT_WHEEL_EXCLUDES
    assert {"grader/student/selfcheck.py", "grader/_templates/student_report.html.j2"} <= members


def test_bundle_pins_the_versions_the_grader_is_tested_with(tmp_path: Path) -> None:
    write_student_bundle(tmp_path / "bundle", install_from="motifgrader==0.1.0")
    pins = {
        line.split("==")[0]: line
        for line in (tmp_path / "bundle" / "constraints.txt").read_text().splitlines()
        if "==" in line
    }
    tested = {
        line.split("==")[0]: line
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line
    }
    assert pins == tested
    names = {re.sub(r"[-_.]+", "-", name).lower() for name in pins}
    assert {"tensorflow-cpu", "keras", "numpy", "nbclient", "pytest"} <= names


def test_bundle_ships_no_measured_answers_and_no_answer_key_template(tmp_path: Path) -> None:
    write_student_bundle(tmp_path / "bundle")
    with zipfile.ZipFile(next((tmp_path / "bundle" / "wheels").glob("*.whl"))) as archive:
        members = set(archive.namelist())
    assert "reference/expectations.json" not in members
    assert "grader/_templates/reference_report.html.j2" not in members
    measured = (ROOT / "reference" / "expectations.json").read_bytes()
    assert not [name for name, data in _all_bytes(tmp_path / "bundle") if data == measured]


def test_bundle_refuses_and_removes_its_files_when_the_secret_would_leak(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "ACGTG")  # the assignment's motif: it is in the starter
    with pytest.raises(BundleError, match="contains the value of"):
        write_student_bundle(tmp_path / "bundle", install_from="motifgrader==0.1.0")
    assert not [p for p in (tmp_path / "bundle").rglob("*") if p.is_file()]


def test_student_wheel_leaves_out_solution_experiments_and_training_recipe() -> None:
    files = student_wheel_files()
    assert not set(files) & STUDENT_WHEEL_EXCLUDES
    assert "reference/model.py" in files  # the scorer reads first-layer filters with it
    assert "grader/assignments/deepbind_motif.toml" in files
    assert "grader/ci_templates/student-selfcheck.yml" in files


def test_student_wheel_installs_offline_and_imports_the_self_check(tmp_path: Path) -> None:
    wheel = build_student_wheel(tmp_path / "dist")
    target = tmp_path / "site"
    install = ["install", "--quiet", "--no-deps", "--no-index", "--target", str(target)]
    subprocess.run([sys.executable, "-m", "pip", *install, str(wheel)], check=True)
    probe = (
        "import importlib, importlib.util, json, grader\n"
        "from importlib.metadata import distribution\n"
        "for m in ('grader.cli', 'grader.student.selfcheck',\n"
        "          'grader.student.pytest_items', 'grader.batch'):\n"
        "    importlib.import_module(m)\n"
        "from grader.resources import templates_dir\n"
        "gone = [m for m in ('reference.experiments', 'grader.answer_key', 'reference.train')\n"
        "        if importlib.util.find_spec(m) is None]\n"
        "points = {(e.group, e.name, e.value) for e in distribution('motifgrader').entry_points}\n"
        "print(json.dumps([grader.__file__, str(templates_dir()), gone, sorted(points)]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    output = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert output.returncode == 0, output.stderr
    package, templates, gone, points = json.loads(output.stdout)
    assert package == str(target / "grader" / "__init__.py")
    assert templates == str(target / "grader" / "_templates")
    assert gone == ["reference.experiments", "grader.answer_key", "reference.train"]
    assert ["pytest11", "motifgrader", "grader.student.pytest_plugin"] in points
    assert ["console_scripts", "motifgrader", "grader.cli:main"] in points


def test_install_from_a_git_url_becomes_a_named_requirement_and_no_wheel(tmp_path: Path) -> None:
    url = "git+https://github.com/COURSE/motifgrader@v0.1.0"
    paths = write_student_bundle(tmp_path / "bundle", install_from=url)
    assert not any(p.suffix == ".whl" for p in paths)
    requirements = (tmp_path / "bundle" / "requirements.txt").read_text().splitlines()
    assert requirements[2:] == ["-c constraints.txt", f"motifgrader @ {url}", "pytest>=8.0"]
    assert requirement_for("motifgrader==0.1.0") == "motifgrader==0.1.0"
    assert "wheels/" not in (tmp_path / "bundle" / "README.md").read_text()


def test_bundle_command_lists_the_files_it_wrote(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    result = CliRunner().invoke(main, ["bundle", "--out", str(out), "--install-from", "mg==1"])
    assert result.exit_code == 0, result.output
    assert "Wrote 6 files for students" in result.output


# --------------------------------------------------------------------------- CI templates


def _workflow(kind: str) -> dict:
    yaml = pytest.importorskip("yaml")
    data = yaml.safe_load(ci_template(kind))
    # YAML 1.1 reads the key `on` as the boolean True.
    data["on"] = data.pop(True, data.get("on"))
    return data


def _step(workflow: dict, step_id: str) -> dict:
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if step.get("id") == step_id:
                return step
    raise KeyError(step_id)


@pytest.mark.parametrize("kind", ["student", "instructor"])
def test_ci_template_is_a_workflow_with_triggers_jobs_and_steps(kind: str) -> None:
    workflow = _workflow(kind)
    assert set(workflow) >= {"name", "on", "permissions", "jobs"}
    assert workflow["permissions"] == {"contents": "read"}
    for job in workflow["jobs"].values():
        assert job["runs-on"] == "ubuntu-latest"
        assert job["timeout-minutes"] > 0
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), step
            if "uses" in step:
                assert step["uses"].split("@")[1].startswith("v"), step["uses"]
            else:
                assert "${{" not in step["run"], "run scripts read values from env, not inline"
        uploads = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-")]
        assert len(uploads) == 1 and uploads[0]["if"] == "always()"


# The first majors that run on Node 24 (Node 20 actions are deprecated on GitHub's runners).
CURRENT_MAJORS = {
    "actions/checkout": 5,
    "actions/setup-python": 6,
    "actions/cache": 5,
    "actions/cache/restore": 5,
    "actions/cache/save": 5,
    "actions/upload-artifact": 5,
}


@pytest.mark.parametrize("kind", ["student", "instructor"])
def test_ci_templates_use_current_action_majors(kind: str) -> None:
    for job in _workflow(kind)["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                action, version = step["uses"].split("@")
                assert int(version.removeprefix("v")) >= CURRENT_MAJORS[action], step["uses"]


def test_instructor_workflow_keeps_the_gradebook_between_runs() -> None:
    workflow = _workflow("instructor")
    restore, save = _step(workflow, "gradebook-restore"), _step(workflow, "gradebook-save")
    steps = workflow["jobs"]["grade"]["steps"]
    assert steps.index(restore) < steps.index(_step(workflow, "grade")) < steps.index(save)
    assert restore["with"]["path"] == save["with"]["path"] == "${{ env.OUT }}/gradebook.sqlite"
    assert save["if"] == "always()"  # a run stopped half-way keeps what it finished
    assert restore["with"]["key"] == save["with"]["key"]
    assert save["with"]["key"].startswith(restore["with"]["restore-keys"].strip())
    assert "github.run_id" in save["with"]["key"]  # a cache entry is never overwritten


def test_student_workflow_runs_on_pushed_notebooks_without_any_secret() -> None:
    workflow = _workflow("student")
    assert workflow["on"]["push"]["paths"][0] == "**.ipynb"
    assert "secrets." not in ci_template("student")
    run = _step(workflow, "selfcheck")["run"]
    assert "--junitxml" in run and "--notebook-report" in run


def test_instructor_workflow_takes_the_secret_from_the_ci_secret_store_only() -> None:
    grade = _step(_workflow("instructor"), "grade")
    assert grade["env"][SECRET_ENV] == "${{ secrets.MOTIFGRADER_SECRET }}"
    assert "motifgrader grade" in grade["run"]
    assert ci_template("instructor").count("secrets.") == 1


def test_ci_template_command_writes_the_packaged_workflow(tmp_path: Path) -> None:
    out = tmp_path / ".github" / "workflows" / "grade.yml"
    result = CliRunner().invoke(main, ["ci-template", "--kind", "instructor", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == ci_template("instructor")


@pytest.mark.skipif(
    not os.environ.get("MOTIFGRADER_WORKFLOW_SCHEMA"),
    reason="set MOTIFGRADER_WORKFLOW_SCHEMA to a copy of SchemaStore's github-workflow.json",
)
@pytest.mark.parametrize("kind", ["student", "instructor"])
def test_ci_template_validates_against_the_github_workflow_schema(kind: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(Path(os.environ["MOTIFGRADER_WORKFLOW_SCHEMA"]).read_text())
    jsonschema.validate(_workflow(kind), schema)


def _run_step(step: dict, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run a workflow step's script as GitHub's bash shell would, with the venv first on PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=cwd,
        env={**os.environ, "PATH": path, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_instructor_grade_step_refuses_to_grade_without_the_secret(tmp_path: Path) -> None:
    grade = _step(_workflow("instructor"), "grade")
    env = {SECRET_ENV: "", "SUBMISSIONS": "submissions", "OUT": "grading_output"}
    done = _run_step(grade, tmp_path, env)
    assert done.returncode == 2
    assert "::error::The repository secret MOTIFGRADER_SECRET is not set" in done.stdout
    assert not (tmp_path / "grading_output").exists()


@dataclass(frozen=True)
class WorkflowRun:
    """One run of the student workflow's self-check step, and what it was given."""

    repo: Path
    env: dict[str, str]
    done: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def student_workflow(tmp_path_factory: pytest.TempPathFactory) -> WorkflowRun:
    """The student workflow's self-check step, run once: `pytest --notebook` on a course
    repository holding the fast notebook and a checkpoint copy the step must skip."""
    repo = tmp_path_factory.mktemp("student_workflow") / "course"
    fast_notebook(repo / "hw4.ipynb")
    fast_notebook(repo / ".ipynb_checkpoints" / "hw4-checkpoint.ipynb")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-f", "."], cwd=repo, check=True)
    env = {
        "REPORTS": _workflow("student")["jobs"]["selfcheck"]["env"]["REPORTS"],
        "GITHUB_STEP_SUMMARY": str(repo.parent / "step_summary.md"),
        "CI": "true",
    }
    done = _run_step(_step(_workflow("student"), "selfcheck"), repo, env)
    return WorkflowRun(repo, env, done)


@pytest.mark.slow
def test_student_workflow_checks_committed_notebooks_writing_junit_reports_and_summary(
    student_workflow: WorkflowRun,
) -> None:
    repo, env, done = student_workflow.repo, student_workflow.env, student_workflow.done
    assert done.returncode == 1, done.stdout + done.stderr  # the fast notebook fails checks
    assert "11 failed, 6 passed, 4 skipped" in done.stdout
    assert sorted(p.name for p in (repo / "selfcheck").iterdir()) == ["hw4", "junit.xml"]
    assert (repo / "selfcheck" / "hw4" / "report.html").is_file()
    junit = (repo / "selfcheck" / "junit.xml").read_text()
    assert 'tests="21"' in junit and 'failures="11"' in junit and 'skipped="4"' in junit
    assert _run_step(_step(_workflow("student"), "summary"), repo, env).returncode == 0
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary.startswith(
        f"### Self-check of `hw4.ipynb`: {STARTER_PUBLIC_POINTS:g} / {PUBLIC_POINTS:g} public "
        "points, 11 to fix"
    )


@pytest.mark.slow
def test_a_real_notebook_becomes_one_item_per_check_with_its_verdict(
    student_workflow: WorkflowRun,
) -> None:
    """The plugin on a notebook it really executes: every check of the spec is an item,
    with the verdict the fast notebook earns and the check's own explanation."""
    suite = ElementTree.parse(student_workflow.repo / "selfcheck" / "junit.xml").getroot()
    outcomes, texts = {}, {}
    for case in suite.iter("testcase"):
        check = case.get("name", "").split("[", 1)[1].rstrip("]")
        failure, skipped = case.find("failure"), case.find("skipped")
        outcomes[check] = (
            "failed" if failure is not None else "skipped" if skipped is not None else "passed"
        )
        texts[check] = failure.text if failure is not None else ""
    assert outcomes == FAST_NOTEBOOK_VERDICTS
    assert texts["kernel_sweep"].splitlines()[1] == (
        "0 of 10 points. The values of `kernel_results` are typed into the notebook's code "
        "(e.g. 0.8), not"
    )


@pytest.mark.slow
def test_instructor_grade_step_grades_the_submissions_with_the_secret(tmp_path: Path) -> None:
    fast_notebook(tmp_path / "submissions" / "ada" / "hw4.ipynb")
    grade = _step(_workflow("instructor"), "grade")
    env = {SECRET_ENV: "course-secret", "SUBMISSIONS": "submissions", "OUT": "grading_output"}
    done = _run_step(grade, tmp_path, env)
    assert done.returncode == 0, done.stdout + done.stderr
    student = tmp_path / "grading_output" / "students" / "ada"
    assert (student / "report.html").is_file()
    results = json.loads((student / "results.json").read_text())
    names = {t["name"] for t in results["tests"]}
    assert any("ROC AUC" in name for name in names)
    assert "Development seed" not in (tmp_path / "grading_output" / "index.html").read_text()


def test_fast_notebook_expectations_name_every_check_in_spec_order() -> None:
    assert list(FAST_NOTEBOOK_VERDICTS) == [c.id for c in SPEC.checks]
