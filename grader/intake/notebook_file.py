"""Read a submitted notebook file leniently: what nbformat can read is graded, whatever
its encoding or format version; what it cannot is refused with a sentence to act on."""

from __future__ import annotations

import json
from typing import Any

import nbformat


class NotebookUnreadable(Exception):
    """The submission is not a notebook we can run; the message says why."""


def read_notebook(data: bytes) -> tuple[Any, list[str]]:
    """Parse notebook bytes leniently; return the v4 notebook and notes for the report.

    Bytes that are not UTF-8 are decoded with replacement characters rather than
    rejected: a stray Latin-1 character in a comment should not cost a student the
    whole assignment. Older formats (v3) are upgraded by nbformat.
    """
    notes: list[str] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        notes.append("The notebook file is not valid UTF-8; unreadable characters were replaced.")
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookUnreadable(
            f"The file is not valid notebook JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg}). Open it in Jupyter, save it again and resubmit."
        ) from exc
    if not isinstance(raw, dict) or "nbformat" not in raw:
        raise NotebookUnreadable(
            "The file is JSON but not a Jupyter notebook (it has no 'nbformat' field)."
        )
    try:
        notebook = nbformat.reads(json.dumps(raw), as_version=4)
    except Exception as exc:
        raise NotebookUnreadable(f"The notebook could not be read by nbformat: {exc}") from exc
    if raw.get("nbformat", 4) < 4:
        notes.append(f"The notebook was in format v{raw.get('nbformat')}; it was upgraded to v4.")
    for cell in notebook.cells:
        if not isinstance(cell.get("source", ""), str):
            cell["source"] = "".join(cell.get("source") or [])
        cell.setdefault("metadata", {})
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return notebook, notes
