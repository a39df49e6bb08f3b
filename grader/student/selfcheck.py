"""The student's self-check: the instructor's grader, run on public checks only.

`check_notebook` runs one notebook through `grade_submission`, the same execute,
harvest, score and check path as `motifgrader grade`, with hidden checks switched
off and the development seed, so a student learns before the deadline what the
grader will say about everything that does not need the secret data.

What counts as a failure decides what a student fixes, so the rule is here, once,
for `motifgrader check`, the pytest plugin and CI alike (`verdict_for`):

- an automatic check fails unless it earned all its points: partial credit is a
  failure whose message starts with the points ("4 of 10 points"), because a pass
  would hide what is still missing;
- a written answer (graded by hand) passes when the `Answer Qn` cell holds text, with
  a note that a person grades it, and fails when it is missing or still the
  placeholder, since those points are lost for certain;
- hidden checks are skipped with the reason and the points at stake, unless what
  they read from the notebook (`model`, `multi_motifs`, ...) is missing or unusable:
  that is no secret, and those points are lost whatever the hidden data, so the
  check fails with the harvest's reason (what to add) instead;
- a check the grader itself could not run fails with the grader's message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from grader.batch import kernel_expectation_rows, kernel_reference
from grader.checks.results import CheckResult, StudentResult
from grader.grade import GradedSubmission, GradingOptions, grade_submission
from grader.intake.discover import discover_submissions
from grader.outputs.exports import results_json
from grader.outputs.report import SelfCheckTotals, fmt, render_student_report, write_kernel_log
from grader.spec import AssignmentSpec, SeedInfo, load_spec, resolve_seed

Verdict = Literal["passed", "failed", "skipped"]
# What each hidden check reads from the notebook; "a|b" means either will do.
HIDDEN_CHECK_INPUTS: dict[str, tuple[str, ...]] = {
    "hidden_roc_auc": ("model",),
    "hidden_pr_auc": ("model",),
    "reported_metrics_supported": ("model", "roc", "pr_auc"),
    "motif_recovered": ("model",),
    "multi_motif_specialisation": ("multi_model", "multi_motifs"),
    "interaction_captured": (
        "interaction_model",
        "interaction_rule",
        "interaction_motifs|multi_motifs",
    ),
    "stress_suite": ("model",),
}
GradeFunction = Callable[..., GradedSubmission]
REPORT_NAME = "report.html"
SUMMARY_NAME = "summary.md"


@dataclass(frozen=True)
class CheckVerdict:
    """One check as the self-check reports it: pass, fail or skip, and what to do."""

    check: CheckResult
    verdict: Verdict
    message: str

    @property
    def name(self) -> str:
        return self.check.name

    @property
    def headline(self) -> str:
        """The first line a student reads: question, title and points."""
        c = self.check
        return f"{c.question} · {c.title}: {fmt(c.points)} / {fmt(c.max_points)} points"


def _manual_verdict(check: CheckResult, answers: Mapping[str, str] | None) -> CheckVerdict:
    number = check.question.removeprefix("Q")
    text = check.evidence.get("text") if check.evidence else None
    if text:
        words = len(text.split())
        return CheckVerdict(
            check,
            "passed",
            f"Answer found ({words} words). A person grades it (up to {fmt(check.max_points)} "
            "points); the self-check only sees that it is there.",
        )
    if text is None and check.message:
        # No answers were read at all (the notebook could not be opened): say why.
        return CheckVerdict(check, "failed", check.message)
    if answers is not None and check.question in answers:
        return CheckVerdict(
            check,
            "failed",
            f"No written answer for {check.question} yet ({fmt(check.max_points)} points, graded "
            f"by hand): the 'Answer Q{number}' cell is there but still holds the placeholder; "
            "write your answer below its first line.",
        )
    return CheckVerdict(
        check,
        "failed",
        f"No written answer for {check.question} yet ({fmt(check.max_points)} points, graded by "
        f"hand): write it below the line 'Answer Q{number}' in that Markdown cell, replacing "
        f"the placeholder, or add a Markdown cell whose first line is 'Answer Q{number}'.",
    )


def _missing_inputs(check_id: str, inputs: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Why the notebook's values cannot feed a hidden check, one reason per missing name."""
    problems = []
    for requirement in HIDDEN_CHECK_INPUTS.get(check_id, ()):
        names = requirement.split("|")
        entries = [inputs.get(name) for name in names]
        if any(entry is not None and entry.get("ok") for entry in entries):
            continue
        reasons = [
            str(entry.get("problem") or f"`{name}` is not usable")
            for name, entry in zip(names, entries, strict=True)
            if entry is not None
        ]
        if reasons:
            problems.append(" or ".join(reasons))
    return problems


def _hidden_verdict(
    check: CheckResult, inputs: Mapping[str, Mapping[str, Any]] | None
) -> CheckVerdict:
    points = fmt(check.max_points)
    problems = _missing_inputs(check.name, inputs) if inputs else []
    if problems:
        return CheckVerdict(
            check,
            "failed",
            f"Hidden check ({points} points), graded on hidden data, but it can earn nothing "
            f"as the notebook stands: {'; '.join(problems)}. Set the names that 'How your "
            "notebook is graded' lists at the top of the notebook.",
        )
    return CheckVerdict(
        check,
        "skipped",
        f"Hidden check ({points} points): it runs only when your instructor grades on the "
        "hidden data.",
    )


def verdict_for(
    check: CheckResult,
    inputs: Mapping[str, Mapping[str, Any]] | None = None,
    answers: Mapping[str, str] | None = None,
) -> CheckVerdict:
    """The self-check's verdict on one check (the rules are in the module doc).

    `inputs` maps contract names to the harvest's {"present", "ok", "problem"}; without
    it hidden checks are simply skipped. `answers` (question -> text, "" for a cell
    still holding the placeholder) tells an unwritten answer cell from a missing one.
    """
    if check.visibility == "hidden":
        return _hidden_verdict(check, inputs)
    if check.kind == "manual":
        return _manual_verdict(check, answers)
    if check.status == "passed":
        return CheckVerdict(check, "passed", check.message)
    if check.status == "skipped":
        return CheckVerdict(check, "skipped", check.message)
    if check.status == "error":
        return CheckVerdict(check, "failed", check.message)
    earned = "partial credit, " if check.status == "partial" else ""
    return CheckVerdict(
        check,
        "failed",
        f"{earned}{fmt(check.points)} of {fmt(check.max_points)} points. {check.message}",
    )


@dataclass(frozen=True)
class SelfCheckResult:
    """The outcome of one self-check: the grader's result and the verdict per check."""

    notebook: Path
    result: StudentResult
    verdicts: tuple[CheckVerdict, ...]
    report_path: Path | None
    seconds: float

    def verdict(self, check_id: str) -> CheckVerdict:
        for verdict in self.verdicts:
            if verdict.name == check_id:
                return verdict
        raise KeyError(check_id)

    @property
    def failed(self) -> tuple[CheckVerdict, ...]:
        return tuple(v for v in self.verdicts if v.verdict == "failed")

    @property
    def passed(self) -> tuple[CheckVerdict, ...]:
        return tuple(v for v in self.verdicts if v.verdict == "passed")

    @property
    def skipped(self) -> tuple[CheckVerdict, ...]:
        return tuple(v for v in self.verdicts if v.verdict == "skipped")

    @property
    def public_points(self) -> tuple[float, float]:
        """(points, max) over the public automatic checks: what the self-check can score."""
        checks = [c for c in self.result.checks if c.visibility == "public" and c.kind == "auto"]
        return (
            round(sum(c.points for c in checks), 4),
            round(sum(c.max_points for c in checks), 4),
        )

    @property
    def exit_code(self) -> int:
        """0 when every public check passes, 1 otherwise (the `check` command's status)."""
        return 1 if self.failed else 0


def summary_lines(outcome: SelfCheckResult) -> list[str]:
    """A plain-text summary: one line per check, then the totals and what they mean."""
    result = outcome.result
    lines = [
        f"{outcome.notebook.name}: notebook {result.status} "
        f"({outcome.seconds:.0f} s). {result.status_message}"
    ]
    marks = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}
    for v in outcome.verdicts:
        c = v.check
        points = f"{fmt(c.points)}/{fmt(c.max_points)}"
        if v.verdict == "skipped" or c.kind == "manual":
            points = f"-/{fmt(c.max_points)}"
        lines.append(f"  {marks[v.verdict]}  {c.question:<7} {points:>7}  {c.name}")
    earned, maximum = outcome.public_points
    hidden = sum(v.check.max_points for v in outcome.verdicts if v.check.visibility == "hidden")
    manual = sum(v.check.max_points for v in outcome.verdicts if v.check.kind == "manual")
    lines.append(
        f"Public automatic checks: {fmt(earned)} / {fmt(maximum)} points. Hidden checks "
        f"({fmt(hidden)} points) and written answers ({fmt(manual)} points) are graded by your "
        "instructor."
    )
    isolation = result.environment.get("isolation")
    if isolation:
        lines.append(f"Ran your notebook {_isolation_words(result.environment)}: {isolation}")
    if outcome.report_path is not None:
        lines.append(f"Report: {outcome.report_path}")
    return lines


def _isolation_words(environment: dict) -> str:
    """A self-check may run unisolated (it is the student's own code on their own machine)."""
    if environment.get("isolated"):
        return "in an isolating sandbox"
    return "without isolation (fine for your own notebook; your instructor's grader isolates it)"


def markdown_summary(outcome: SelfCheckResult) -> str:
    """The same summary as a Markdown table, for a CI job summary page."""
    marks = {"passed": "✅ pass", "failed": "❌ fail", "skipped": "⏭ hidden"}
    earned, maximum = outcome.public_points
    rows = [
        f"### Self-check of `{outcome.notebook.name}`: {fmt(earned)} / {fmt(maximum)} public "
        f"points, {len(outcome.failed)} to fix",
        "",
        f"Notebook status: **{outcome.result.status}**. {outcome.result.status_message}",
        "",
        "| | question | check | points | what the grader says |",
        "|---|---|---|---|---|",
    ]
    for v in outcome.verdicts:
        c = v.check
        points = "—" if v.verdict == "skipped" or c.kind == "manual" else fmt(c.points)
        message = v.message.replace("|", "\\|").replace("\n", " ")
        rows.append(
            f"| {marks[v.verdict]} | {c.question} | {c.title} | {points} / "
            f"{fmt(c.max_points)} | {message} |"
        )
    return "\n".join(rows) + "\n"


def report_totals(outcome: SelfCheckResult) -> SelfCheckTotals:
    """The self-check's own totals and verdicts, so its HTML says what its terminal says."""
    earned, maximum = outcome.public_points
    checks = [v.check for v in outcome.verdicts]
    return SelfCheckTotals(
        earned=earned,
        maximum=maximum,
        hidden_max=round(sum(c.max_points for c in checks if c.visibility == "hidden"), 4),
        manual_max=round(sum(c.max_points for c in checks if c.kind == "manual"), 4),
        verdicts={v.name: (v.verdict, v.message) for v in outcome.verdicts},
    )


def write_selfcheck_outputs(
    out_dir: Path, graded: GradedSubmission, outcome: SelfCheckResult, spec: AssignmentSpec
) -> Path:
    """report.html, results.json, executed.ipynb and summary.md, as `grade` writes them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    html = render_student_report(
        graded.result,
        spec,
        kernel_reference=kernel_reference(),
        self_check=report_totals(outcome),
    )
    report = out_dir / REPORT_NAME
    report.write_text(html, encoding="utf-8")
    write_kernel_log(out_dir, graded.result)
    (out_dir / "results.json").write_text(results_json(graded.result), encoding="utf-8")
    if graded.executed_notebook:
        (out_dir / "executed.ipynb").write_bytes(graded.executed_notebook)
    (out_dir / SUMMARY_NAME).write_text(markdown_summary(outcome), encoding="utf-8")
    return report


def development_seed(spec: AssignmentSpec) -> SeedInfo:
    """The development seed, even where a secret is set: the self-check must not use it."""
    return resolve_seed(spec, env={})


def check_notebook(
    path: Path | str,
    *,
    out_dir: Path | str | None = None,
    spec_path: Path | str | None = None,
    sandbox: str = "auto",
    grade: GradeFunction | None = None,
) -> SelfCheckResult:
    """Grade `path` on the public checks and, with `out_dir`, write the student's report.

    Raises FileNotFoundError for a missing notebook and SpecError for a bad spec (the
    caller's misuse); anything wrong with the notebook itself ends in the result.
    `grade` replaces `grade_submission` in tests.
    """
    started = time.monotonic()
    notebook = Path(path)
    if notebook.suffix.lower() != ".ipynb" or not notebook.is_file():
        raise FileNotFoundError(f"{notebook} is not a .ipynb notebook file")
    spec = load_spec(spec_path)
    (submission,) = discover_submissions(notebook)
    grade = grade or grade_submission
    graded = grade(
        submission,
        spec,
        development_seed(spec),
        # The student's own notebook on the student's own machine: run it even without an
        # isolating sandbox, and say which mode was used (the report's `isolation`).
        GradingOptions(sandbox=sandbox, include_hidden=False, allow_unisolated=True),
        kernel_expectation_rows(),
    )
    details = graded.result.details
    inputs = {**details.get("contract", {}), **details.get("models", {})} or None
    answers = details.get("answers")
    verdicts = tuple(verdict_for(c, inputs, answers) for c in graded.result.checks)
    outcome = SelfCheckResult(
        notebook=notebook,
        result=graded.result,
        verdicts=verdicts,
        report_path=None,
        seconds=time.monotonic() - started,
    )
    if out_dir is None:
        return outcome
    report = write_selfcheck_outputs(Path(out_dir), graded, outcome, spec)
    return replace(outcome, report_path=report)
