"""The self-check says the same thing everywhere: terminal, pytest, JUnit XML and HTML.

For the starter, `motifgrader check` runs for real once (`starter_check`, a session
fixture in conftest shared with the pytest plugin's tests): its kernel,
its scoring, its terminal. That one run also proves the terminal quiet: no TensorFlow
line reaches stdout or stderr (file descriptors included), while the kernel's log
beside the report holds them. For the solution, the grade of `graded_samples` (shared
with test_samples) is turned into its self-check form: hidden checks skipped, as a
self-check runs them. pytest and the CLI then replay each graded notebook through a
stand-in for `grade_submission`, so no notebook runs twice.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.checks.results import StudentResult
from grader.cli import main
from grader.grade import GradedSubmission
from grader.outputs.report import KERNEL_LOG_NAME
from grader.student import selfcheck
from grader.student.selfcheck import check_notebook
from tests.shared_gradings import RealCheck
from tests.test_selfcheck import FakeGrader

pytestmark = pytest.mark.slow
pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "reference" / "notebooks" / "starter.ipynb"
SAMPLES = ROOT / "student_submissions"
TENSORFLOW_NOISE = re.compile(
    r"oneDNN|absl|cuda|cudnn|cublas|cpu_feature_guard|TensorFlow binary|tensorflow/core",
    re.IGNORECASE,
)
# The HTML badge of a check -> the self-check verdict it stands for.
BADGE_VERDICT = {
    "passed": "passed",
    "manual": "passed",  # a written answer that is there: a person grades it
    "partial": "failed",
    "failed": "failed",
    "error": "failed",
    "missing": "failed",
    "skipped": "skipped",  # "by instructor": a hidden check
}


def as_self_check(result: StudentResult) -> StudentResult:
    """The instructor's grade as a self-check grades it: hidden checks skipped."""
    checks = tuple(
        dataclasses.replace(c, points=0.0, status="skipped", message="Hidden.")
        if c.visibility == "hidden"
        else c
        for c in result.checks
    )
    return dataclasses.replace(result, checks=checks)


@pytest.fixture(scope="session")
def solution_graded(graded_samples) -> GradedSubmission:
    (result,) = [r for r in graded_samples.results if r.student == "reference_solution"]
    return GradedSubmission(as_self_check(result))


# --------------------------------------------------------------------------- a quiet terminal


def test_check_on_the_starter_prints_no_tensorflow_line(starter_check: RealCheck) -> None:
    assert starter_check.exit_code == 1, starter_check.terminal  # the starter fails checks
    for text in (starter_check.terminal, starter_check.descriptors):
        noisy = [line for line in text.splitlines() if TENSORFLOW_NOISE.search(line)]
        assert noisy == []
    log = starter_check.out_dir / KERNEL_LOG_NAME
    assert TENSORFLOW_NOISE.search(log.read_text()), "the kernel's lines belong in its log"
    assert f'href="{KERNEL_LOG_NAME}"' in (starter_check.out_dir / "report.html").read_text()


# --------------------------------------------------------------------------- one verdict


def terminal_verdicts(output: str) -> tuple[dict[str, str], str]:
    marks = {"PASS": "passed", "FAIL": "failed", "SKIP": "skipped"}
    verdicts = {
        m.group(3): marks[m.group(1)]
        for m in re.finditer(r"^\s+(PASS|FAIL|SKIP)\s+(\S+)\s+\S+\s+(\w+)$", output, re.M)
    }
    total = re.search(r"Public automatic checks: (\S+ / \S+) points", output)
    assert total, output
    return verdicts, total.group(1)


def html_verdicts(html: str) -> tuple[dict[str, str], str]:
    verdicts = {
        m.group(1): BADGE_VERDICT[m.group(2)]
        for m in re.finditer(r'<tr id="check-(\w+)">.*?<span class="badge (\w+)">', html, re.S)
    }
    total = re.search(r'<div class="value">([^<]+)</div><div class="label">public automatic', html)
    assert total, "the self-check report shows public points out of public points"
    return verdicts, total.group(1).strip()


def junit_verdicts(path: Path) -> dict[str, str]:
    verdicts = {}
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        name = re.search(r"check\[(\w+)\]", case.get("name", "")).group(1)
        children = {child.tag for child in case}
        verdicts[name] = (
            "failed"
            if children & {"failure", "error"}
            else "skipped"
            if "skipped" in children
            else "passed"
        )
    return verdicts


@pytest.fixture(params=["starter", "solution"])
def checked(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    starter_check: RealCheck,
    solution_graded: GradedSubmission,
) -> tuple[Path, GradedSubmission]:
    # Both gradings are named here, not looked up, so the session schedules them up front.
    if request.param == "starter":
        return starter_check.notebook, starter_check.graded
    notebook = tmp_path / "hw4.ipynb"
    shutil.copyfile(SAMPLES / "reference_solution" / "hw4.ipynb", notebook)
    return notebook, solution_graded


def test_terminal_pytest_junit_and_html_agree(
    checked: tuple[Path, GradedSubmission],
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    notebook, graded = checked
    monkeypatch.setattr(selfcheck, "grade_submission", FakeGrader(graded))
    outcome = check_notebook(notebook, out_dir=tmp_path / "report")
    expected = {v.name: v.verdict for v in outcome.verdicts}
    earned, maximum = outcome.public_points

    cli = CliRunner().invoke(main, ["check", str(notebook), "--out", str(tmp_path / "cli")])
    assert cli.exit_code == outcome.exit_code
    terminal, terminal_total = terminal_verdicts(cli.stdout)

    copy = pytester.path / notebook.name
    shutil.copyfile(notebook, copy)
    junit = pytester.path / "junit.xml"
    ran = pytester.runpytest(
        "-p", "no:cacheprovider", "--notebook", str(copy), f"--junitxml={junit}"
    )
    counts = ran.parseoutcomes()
    html, html_total = html_verdicts((tmp_path / "report" / "report.html").read_text())

    assert terminal == expected
    assert junit_verdicts(junit) == expected
    assert html == expected
    for verdict in ("passed", "failed", "skipped"):
        assert counts.get(verdict, 0) == list(expected.values()).count(verdict)
    assert terminal_total == html_total == f"{earned:g} / {maximum:g}"
    assert "No answer found" not in (tmp_path / "report" / "report.html").read_text()
