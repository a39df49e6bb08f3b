"""The tree a newcomer reads: one sub-package per step, each saying what comes in and out,
and the README's "How grading works" table naming exactly those folders and modules."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEP_ROW = re.compile(r"^\| (\d) \| `grader/(\w+)/` \| (.*) \|$", re.M)


def _steps() -> dict[str, tuple[int, set[str]]]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## How grading works", 1)[1].split("\n## ", 1)[0]
    steps = {}
    for number, folder, text in STEP_ROW.findall(section):
        listed = re.search(r"\(([^()]*)\)\s*$", text)
        modules = set(re.findall(r"`(\w+)`", listed[1])) if listed else set()
        steps[folder] = (int(number), modules)
    return steps


def test_readme_lists_the_steps_in_order_and_every_module_of_each():
    steps = _steps()
    assert [n for n, _ in steps.values()] == list(range(1, len(steps) + 1))
    assert list(steps) == ["intake", "run", "harvest", "score", "checks", "outputs", "gradebook"]
    for folder, (_, modules) in steps.items():
        present = {p.stem for p in (ROOT / "grader" / folder).glob("*.py")} - {"__init__"}
        assert modules == present, folder


def test_every_sub_package_says_what_comes_in_and_what_goes_out():
    for init in sorted((ROOT / "grader").glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert "In:" in doc and "Out:" in doc, init.parent.name


def test_every_module_opens_with_a_docstring():
    missing = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "grader").rglob("*.py"))
        if path.name != "__init__.py"
        and not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert missing == []
