"""pytest glue for the self-check: options and hooks only.

`pytest --notebook hw4.ipynb` turns each check of the assignment into one test item
(see `grader.student.pytest_items`) and runs the notebook once, through the grader itself.

Every pytest run in an environment with motifgrader installed loads this module (the
`pytest11` entry point), so at module level it only declares its options and imports
nothing beyond pytest. The hooks that collect and report notebooks live on
`NotebookSession`, which `pytest_configure` registers only when `--notebook` was
given: without it, a project's own test run is exactly what it was.
"""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = pytest.StashKey[frozenset[Path]]()
OUTCOMES = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("motifgrader", "motifgrader self-check of a homework notebook")
    group.addoption(
        "--notebook",
        action="append",
        default=[],
        metavar="PATH",
        help="Run the grader's public checks on this notebook, one test per check "
        "(repeatable). Without it the motifgrader plugin does nothing.",
    )
    group.addoption(
        "--notebook-report",
        default=None,
        metavar="DIR",
        help="Also write each notebook's HTML report, results.json and summary.md "
        "to DIR/<notebook name>/.",
    )
    group.addoption(
        "--notebook-spec",
        default=None,
        metavar="PATH",
        help="Assignment spec to check against (default: the one motifgrader ships).",
    )
    group.addoption(
        "--notebook-sandbox",
        default="auto",
        choices=("auto", "bubblewrap", "fallback"),
        help="How the notebook's kernel is isolated (default: auto).",
    )


def pytest_configure(config: pytest.Config) -> None:
    requested = config.getoption("notebook")
    if not requested:
        return
    notebooks = []
    for name in requested:
        path = Path(name)
        if path.suffix.lower() != ".ipynb" or not path.is_file():
            raise pytest.UsageError(f"--notebook {name}: no such .ipynb file")
        notebooks.append(path.resolve())
    config.stash[NOTEBOOKS] = frozenset(notebooks)
    config.stash[OUTCOMES] = {}
    _collect_notebooks(config, notebooks)
    config.pluginmanager.register(NotebookSession(), "motifgrader-notebooks")


def _collect_notebooks(config: pytest.Config, notebooks: list[Path]) -> None:
    """Make pytest collect the notebooks, and nothing else unless paths were given."""
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        # Not the tests that `testpaths` or the current folder hold: only the notebooks.
        config.args = [str(p) for p in notebooks]
        return
    given = [Path(arg.split("::")[0]).resolve() for arg in config.args]
    for path in notebooks:
        if not any(path == g or g in path.parents for g in given):
            config.args.append(str(path))


class NotebookSession:
    """The hooks that exist only in a run with --notebook."""

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        return [
            "motifgrader self-check: public checks, development seed. Each notebook runs "
            "once, top to bottom in a fresh kernel, when its first check runs (a minute or more)."
        ]

    def pytest_collect_file(
        self, file_path: Path, parent: pytest.Collector
    ) -> pytest.Collector | None:
        if file_path.resolve() not in parent.config.stash[NOTEBOOKS]:
            return None
        from grader.student.pytest_items import NotebookFile

        return NotebookFile.from_parent(parent, path=file_path)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        """Point a skipped check's report at the notebook, not at the line that skipped it."""
        report = yield
        located = isinstance(report.longrepr, tuple) and len(report.longrepr) == 3
        if report.skipped and located and getattr(item, "notebook_check", False):
            report.longrepr = (str(item.path), None, report.longrepr[2])
        return report

    def pytest_terminal_summary(self, terminalreporter, exitstatus: int, config: pytest.Config):
        outcomes = config.stash[OUTCOMES]
        if not outcomes:
            return
        from grader.student.selfcheck import summary_lines

        terminalreporter.section("motifgrader self-check")
        for outcome in outcomes.values():
            for line in summary_lines(outcome):
                terminalreporter.write_line(line)
