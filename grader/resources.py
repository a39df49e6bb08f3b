"""Where the project's data files are, in a source checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2

_PACKAGE = Path(__file__).resolve().parent


def templates_dir() -> Path:
    """The Jinja2 templates: `templates/` in a checkout, `grader/_templates` when installed."""
    for candidate in (_PACKAGE.parent / "templates", _PACKAGE / "_templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the report templates are missing from this installation")


def template_environment() -> jinja2.Environment:
    """A fresh Jinja2 environment over the templates, set up as every page needs it: student
    text is untrusted, so autoescape is on, and a missing name is an error, not a blank.
    Each page adds its own globals and filters to its own copy."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
