"""The written answers and the code, read from the notebook file itself, never from the kernel."""

from __future__ import annotations

import re
from typing import Any

_ANSWER_HEADER = re.compile(
    r"^[#>*_\s]*(?:answer\s*(?:to\s*)?\(?\s*(?:q|question)\s*([1-6])\)?|(?:q|question)\s*([1-6])"
    r"\s*[:.)-]?\s*answer)\b[\s:.*_)-]*",
    re.IGNORECASE,
)


PLACEHOLDER_ANSWERS = {"", "_write your answer here._", "write your answer here.", "todo", "tbd"}


def notebook_code(notebook: Any, limit: int = 2_000_000) -> str:
    """The source of every code cell, joined, capped at `limit` characters."""
    sources = [
        str(cell.get("source", ""))
        for cell in getattr(notebook, "cells", [])
        if cell.get("cell_type") == "code"
    ]
    return "\n".join(sources)[:limit]


def extract_answers(notebook: Any) -> dict[str, str]:
    """Text of the Markdown cells that start with `Answer Q1` ... `Answer Q6`.

    A later cell for the same question wins (students often leave the template's
    empty cell above their own); placeholders count as no answer.
    """
    answers: dict[str, str] = {}
    for cell in getattr(notebook, "cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        text = str(cell.get("source", "")).strip()
        match = _ANSWER_HEADER.match(text)
        if not match:
            continue
        body = text[match.end() :].strip()
        if body.lower().strip("*_ ") in PLACEHOLDER_ANSWERS or body.lower() in PLACEHOLDER_ANSWERS:
            body = ""
        question = f"Q{match.group(1) or match.group(2)}"
        if body or question not in answers:
            answers[question] = body[:20000]
    return answers
