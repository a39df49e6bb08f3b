"""The self-check's pytest nodes: a notebook file, one item per check, failure text.

Collection reads only the assignment spec, so `--collect-only` costs nothing; the
notebook runs once, when the first selected item needs it, and every item reads its
verdict from that one run. A failing item shows the check's own message (what to add
or fix), with the points, as its whole failure text: no traceback, because the
student's problem is in the notebook, not in a test file.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from grader.student.pytest_plugin import OUTCOMES

if TYPE_CHECKING:
    from grader.spec import CheckSpec
    from grader.student.selfcheck import CheckVerdict, SelfCheckResult

WRAP_WIDTH = 100


class CheckFailed(Exception):
    """A public check did not earn all its points; carries the verdict to report."""

    def __init__(self, verdict: CheckVerdict) -> None:
        super().__init__(verdict.message)
        self.verdict = verdict


@dataclass(frozen=True)
class CheckLocation:
    """The one-line form pytest prints in its short summary and JUnit `message`."""

    path: str
    lineno: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class CheckFailureRepr:
    """A failure shown as the check's headline and message, wrapped, without traceback.

    pytest accepts any object with `toterminal` as a report's long form; the
    `reprcrash` attribute gives its short summary line and the JUnit message.
    """

    def __init__(self, verdict: CheckVerdict, path: Path) -> None:
        self.lines = [verdict.headline]
        for paragraph in verdict.message.splitlines() or [""]:
            self.lines.extend(textwrap.wrap(paragraph, WRAP_WIDTH) or [""])
        self.reprcrash = CheckLocation(str(path), 0, verdict.message)

    def toterminal(self, tw: Any) -> None:
        for line in self.lines:
            tw.line(line)

    def __str__(self) -> str:
        return "\n".join(self.lines)


class NotebookFile(pytest.File):
    """A notebook given with --notebook: its items are the assignment's checks."""

    def collect(self) -> Iterator[CheckItem]:
        from grader.spec import load_spec

        spec = load_spec(self.config.getoption("notebook_spec"))
        for check in spec.checks:
            yield CheckItem.from_parent(self, name=f"check[{check.id}]", check=check)

    def selfcheck(self) -> SelfCheckResult:
        """Run the notebook through the grader once; later calls return the same result."""
        cached = getattr(self, "_selfcheck", None)
        if cached is not None:
            return cached
        failure = getattr(self, "_selfcheck_failure", None)
        if failure is not None:
            raise RuntimeError(failure)
        from grader.student.selfcheck import check_notebook

        report_root = self.config.getoption("notebook_report")
        try:
            outcome = check_notebook(
                self.path,
                out_dir=Path(report_root) / self.path.stem if report_root else None,
                spec_path=self.config.getoption("notebook_spec"),
                sandbox=self.config.getoption("notebook_sandbox"),
            )
        except Exception as exc:
            self._selfcheck_failure = (
                f"the grader could not check {self.path.name}: {type(exc).__name__}: {exc}"
            )
            raise
        self._selfcheck = outcome
        self.config.stash[OUTCOMES][self.path] = outcome
        return outcome


class CheckItem(pytest.Item):
    """One check of the assignment, passed, failed or skipped as the self-check says."""

    notebook_check = True

    def __init__(self, *, check: CheckSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.extra_keyword_matches.update({check.id, check.question})

    def runtest(self) -> None:
        parent = self.parent
        assert isinstance(parent, NotebookFile)
        verdict = parent.selfcheck().verdict(self.check.id)
        if verdict.verdict == "skipped":
            pytest.skip(verdict.message)
        if verdict.verdict == "failed":
            raise CheckFailed(verdict)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None) -> Any:
        if isinstance(excinfo.value, CheckFailed):
            return CheckFailureRepr(excinfo.value.verdict, self.path)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.path.name}::{self.check.id} ({self.check.question})"
