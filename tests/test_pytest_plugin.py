"""`pytest --notebook`: the self-check as test items, exercised with pytest's own pytester.

The inner pytest runs in this process, so the fast tests swap the grader for a
function returning a prepared result (as in test_selfcheck) and check collection,
failure text, skips, the summary and JUnit XML in milliseconds. The slow test replays the
unmodified starter's real self-check; a small notebook runs through the plugin for real in
the student workflow's test (`test_selfcheck.py`), which reads each item from its JUnit XML.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.spec import load_spec
from grader.student import selfcheck
from tests.golden_scores import PUBLIC_POINTS, STARTER_PUBLIC_POINTS
from tests.test_selfcheck import FakeGrader, graded

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
STARTER_SUBMISSION = ROOT / "student_submissions" / "unmodified_starter" / "hw4.ipynb"
CHECK_IDS = [c.id for c in load_spec().checks]


@pytest.fixture
def notebook(pytester: pytest.Pytester) -> Path:
    path = pytester.path / "hw4.ipynb"
    shutil.copyfile(STARTER_SUBMISSION, path)
    return path


@pytest.fixture
def fake_grader(monkeypatch: pytest.MonkeyPatch):
    def install(statuses: dict[str, str] | None = None, inputs: dict | None = None) -> FakeGrader:
        fake = FakeGrader(graded(statuses, inputs))
        monkeypatch.setattr(selfcheck, "grade_submission", fake)
        return fake

    return install


# --------------------------------------------------------------------------- inert without it


def test_plugin_module_imports_nothing_of_the_grader_at_pytest_start() -> None:
    code = (
        "import sys, grader.student.pytest_plugin\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('grader', 'reference', 'numpy', 'tensorflow', 'keras', 'nbclient')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['grader', 'grader.student', 'grader.student.pytest_plugin']"


def test_without_notebook_option_a_project_collects_and_runs_only_its_tests(
    pytester: pytest.Pytester, notebook: Path
) -> None:
    pytester.makepyfile(test_plain="def test_one():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "hw4.ipynb" not in result.stdout.str()
    assert "motifgrader self-check" not in result.stdout.str()


def test_help_lists_the_notebook_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--notebook=PATH*", "*--notebook-report=DIR*"])


# --------------------------------------------------------------------------- collection


def test_collect_only_lists_one_item_per_check_without_running_the_notebook(
    pytester: pytest.Pytester, notebook: Path, fake_grader
) -> None:
    fake = fake_grader()
    pytester.makepyfile(test_plain="def test_one():\n    pass\n")
    result = pytester.runpytest("--collect-only", "-q", "--notebook", str(notebook))
    lines = [line for line in result.stdout.lines if "::" in line]
    assert lines == [f"hw4.ipynb::check[{check_id}]" for check_id in CHECK_IDS]
    assert fake.calls == []


def test_notebook_and_explicit_test_paths_are_collected_together(
    pytester: pytest.Pytester, notebook: Path, fake_grader
) -> None:
    fake_grader()
    pytester.makepyfile(test_plain="def test_one():\n    pass\n")
    result = pytester.runpytest("--collect-only", "-q", "--notebook", str(notebook), ".")
    result.stdout.fnmatch_lines(["hw4.ipynb::check[[]notebook_runs[]]", "test_plain.py::test_one"])
    assert sum("::" in line for line in result.stdout.lines) == len(CHECK_IDS) + 1


def test_a_missing_notebook_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--notebook", "absent.ipynb")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--notebook absent.ipynb: no such .ipynb file*"])


def test_k_selects_checks_by_name_or_question(
    pytester: pytest.Pytester, notebook: Path, fake_grader
) -> None:
    fake_grader()
    result = pytester.runpytest("--collect-only", "-q", "--notebook", str(notebook), "-k", "Q4")
    lines = [line for line in result.stdout.lines if "::" in line]
    assert lines == ["hw4.ipynb::check[noise_experiment]", "hw4.ipynb::check[answer_q4]"]


# --------------------------------------------------------------------------- outcomes


def test_notebook_runs_once_and_each_check_passes_fails_or_skips(
    pytester: pytest.Pytester, notebook: Path, fake_grader
) -> None:
    fake = fake_grader({"kernel_sweep": "partial", "answer_q6": "failed"})
    result = pytester.runpytest("-p", "no:cacheprovider", "--notebook", str(notebook))
    result.assert_outcomes(passed=12, failed=2, skipped=7)
    assert len(fake.calls) == 1
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_failure_text_is_the_checks_message_with_its_points_and_no_traceback(
    pytester: pytest.Pytester, notebook: Path, fake_grader
) -> None:
    fake_grader({"kernel_sweep": "partial"})
    result = pytester.runpytest("-p", "no:cacheprovider", "--notebook", str(notebook))
    result.stdout.fnmatch_lines(
        [
            "*_ hw4.ipynb::kernel_sweep (Q2) _*",
            "Q2 · Kernel-size sweep below and above the motif length: 0 / 10 points",
            "partial credit, 0 of 10 points. kernel_sweep says what to do.",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert "raise CheckFailed" not in result.stdout.str()


def test_hidden_checks_are_skipped_with_a_reason_at_the_notebook(
    pytester: pytest.Pytester, notebook: Path, fake_grader
) -> None:
    fake_grader()
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs", "--notebook", str(notebook))
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]1[]] hw4.ipynb: Hidden check (15 points): it runs only when your "
            "instructor grades on the hidden data."
        ]
    )


def test_summary_section_shows_partial_credit_and_the_public_total(
    pytester: pytest.Pytester, notebook: Path, fake_grader
) -> None:
    fake_grader({"kernel_sweep": "partial"})
    earned = PUBLIC_POINTS - load_spec().check("kernel_sweep").points
    result = pytester.runpytest("-p", "no:cacheprovider", "--notebook", str(notebook))
    result.stdout.fnmatch_lines(
        [
            "*= motifgrader self-check =*",
            "hw4.ipynb: notebook ok (*",
            "  FAIL  Q2         0/10  kernel_sweep",
            f"Public automatic checks: {earned:g} / {PUBLIC_POINTS:g} points.*",
        ]
    )


def test_junit_xml_carries_each_checks_message(
    pytester: pytest.Pytester, notebook: Path, fake_grader
) -> None:
    fake_grader({"noise_experiment": "failed"})
    pytester.runpytest("-p", "no:cacheprovider", "--notebook", str(notebook), "--junitxml=j.xml")
    junit = (pytester.path / "j.xml").read_text()
    assert 'tests="21" ' in junit and 'failures="1"' in junit and 'skipped="7"' in junit
    assert 'message="0 of 10 points. noise_experiment says what to do."' in junit


def test_notebook_report_option_writes_the_html_report_per_notebook(
    pytester: pytest.Pytester, notebook: Path, fake_grader
) -> None:
    fake_grader()
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--notebook", str(notebook), "--notebook-report", "out"
    )
    assert result.ret == pytest.ExitCode.OK
    report = pytester.path / "out" / "hw4" / "report.html"
    assert report.is_file()
    result.stdout.fnmatch_lines(["Report: *out/hw4/report.html"])


def test_a_grader_crash_is_an_error_on_every_item_with_its_reason(
    pytester: pytest.Pytester, notebook: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args, **kwargs):
        raise RuntimeError("scorer exploded")

    monkeypatch.setattr(selfcheck, "grade_submission", crash)
    result = pytester.runpytest("-p", "no:cacheprovider", "--notebook", str(notebook))
    result.assert_outcomes(failed=21)
    result.stdout.fnmatch_lines(["*RuntimeError: scorer exploded*"])
    result.stdout.fnmatch_lines(["*the grader could not check hw4.ipynb: RuntimeError*"])


# --------------------------------------------------------------------------- real notebooks


@pytest.mark.slow
def test_unmodified_starter_fails_the_advanced_questions_saying_what_to_add(
    pytester: pytest.Pytester, notebook: Path, starter_check, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The starter's real self-check grade (run once per session by `starter_check`),
    # replayed: the plugin turns that grade into items, as it would after running it.
    monkeypatch.setattr(selfcheck, "grade_submission", FakeGrader(starter_check.graded))
    result = pytester.runpytest("-p", "no:cacheprovider", "--notebook", str(notebook))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=5, failed=11, skipped=5)
    result.stdout.fnmatch_lines(
        [
            "*_ hw4.ipynb::noise_experiment (Q4) _*",
            "0 of 10 points. `noise_results` is still the empty placeholder []*",
            "*_ hw4.ipynb::multi_motif_specialisation (Q5) _*",
            "Hidden check (10 points), graded on hidden data, but it can earn nothing as the "
            "notebook stands:",
            "`multi_model` could not be saved: `multi_model` is still None: set it to your*",
            "*_ hw4.ipynb::interaction_captured (Q6) _*",
            "`interaction_model` could not be saved: *",
            "*_ hw4.ipynb::answer_q5 (Q5) _*",
            "No written answer for Q5 yet (5 points, graded by hand)*",
            "*= motifgrader self-check =*",
            f"Public automatic checks: {STARTER_PUBLIC_POINTS:g} / {PUBLIC_POINTS:g} points.*",
        ]
    )
