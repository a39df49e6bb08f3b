"""Where the project's data files are, in a source checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def templates_dir() -> Path:
    """The Jinja2 templates: `templates/` in a checkout, `grader/_templates` when installed."""
    for candidate in (_PACKAGE.parent / "templates", _PACKAGE / "_templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the report templates are missing from this installation")
