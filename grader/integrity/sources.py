"""What is compared: each student's code cells, outputs, written answers and model fingerprint.

A `ClassSubmission` is read from the executed notebook stored in the gradebook (or
from any notebook, for tests and benchmarks) plus the fingerprint the scorer left in
`details["integrity"]`. The `Starter` is the notebook students receive: its code is
boilerplate for the code layer and its prose (the questions) for the text layer.
"""

from __future__ import annotations

import builtins
import io
import json
import keyword
import logging
import re
import sqlite3
import tokenize
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import nbformat
import numpy as np

from grader.harvest.answers import extract_answers

log = logging.getLogger(__name__)

MAGIC_LINE = re.compile(r"^(\s*)([%!])", re.MULTILINE)
_MODEL_DEFINED = re.compile(
    r"\bmodel\s*=(?!=)|\bmodel\s*\.\s*(fit|set_weights|load_weights|train_on_batch)\b"
)


@lru_cache(maxsize=200_000)
def filtered_cell(source: str) -> tuple[str, np.ndarray]:
    """One code cell through copydetect's filter: (filtered code, offsets to the source).

    Names, strings and comments become placeholders, so renaming a variable or
    rewording a comment changes nothing. IPython magics and shell lines are turned
    into comments (they are not Python). Cached: most cells of a class are the
    starter's, identical in every notebook, and lexing is the costly step.
    """
    text = MAGIC_LINE.sub(r"\1# \2", source)
    try:
        return _tokenize_filter(text)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        from copydetect.utils import filter_code  # Pygments copes with broken code

        code, offsets = filter_code(text, "cell.py", language="python")
        return code, offsets


_KEPT_NAMES = frozenset(dir(builtins)) | frozenset(keyword.kwlist) | frozenset(keyword.softkwlist)
_DROPPED = frozenset(
    {
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.NEWLINE,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENDMARKER,
        tokenize.ENCODING,
    }
)


def _tokenize_filter(text: str) -> tuple[str, np.ndarray]:
    """copydetect's filter (names V, defined functions F, classes O, strings S, no comments
    or layout) with the standard library's tokenizer, several times faster than Pygments.

    Offsets follow copydetect's convention: rows of (filtered index, raw minus
    filtered index), one per token, so highlighted spans map back to the source.
    """
    line_starts = [0]
    for line in text.splitlines(keepends=True):
        line_starts.append(line_starts[-1] + len(line))
    parts: list[str] = []
    rows: list[tuple[int, int]] = [(0, 0)]
    length = 0
    previous = ""
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type in _DROPPED:
            continue
        word = token.string
        if token.type == tokenize.NAME:
            piece = word if word in _KEPT_NAMES else {"def": "F", "class": "O"}.get(previous, "V")
            if previous == ".":
                piece = "V"
        elif token.type == tokenize.STRING:
            piece = "S"
        else:
            piece = word
        raw = line_starts[token.start[0] - 1] + token.start[1]
        rows.append((length, raw - length))
        parts.append(piece)
        length += len(piece)
        previous = word
    return "".join(parts), np.array(rows, dtype=np.int64)


def normalised_code(source: str) -> str:
    """A cell's filtered code without layout: equal for cells that differ only in names,
    strings, comments and whitespace."""
    return "".join(filtered_cell(source)[0].split())


def _source(cell: Any) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _output_text(cell: Any) -> str:
    parts: list[str] = []
    for output in cell.get("outputs", []) or []:
        kind = output.get("output_type")
        if kind == "stream":
            text = output.get("text", "")
        elif kind in ("execute_result", "display_data"):
            text = (output.get("data") or {}).get("text/plain", "")
        else:
            continue
        parts.append("".join(text) if isinstance(text, list) else str(text))
    return "\n".join(parts)


@dataclass(frozen=True)
class Starter:
    """The starter notebook: code that is everybody's, and the questions' own wording."""

    code_cells: tuple[str, ...]
    normalised_cells: frozenset[str]
    prose: str

    @classmethod
    def from_notebook(cls, notebook: Any) -> Starter:
        code = tuple(_source(c) for c in notebook.cells if c.get("cell_type") == "code")
        prose = "\n".join(_source(c) for c in notebook.cells if c.get("cell_type") == "markdown")
        return cls(code, frozenset(normalised_code(c) for c in code), prose)


@lru_cache(maxsize=1)
def default_starter() -> Starter:
    """The starter notebook students receive (`motifgrader bundle` ships the same file)."""
    from grader.student.bundle import starter_notebook

    return Starter.from_notebook(nbformat.read(str(starter_notebook()), as_version=4))


@dataclass(frozen=True)
class ClassSubmission:
    """One student's material for comparison.

    `starter_determined[i]` is true when code cell i and every code cell before it
    are the starter's own (up to names and comments): what such a cell prints, and a
    model it trains, is the same for everybody who kept the starter, because every
    kernel is seeded alike, so it is no sign of copying.
    """

    student: str
    code_cells: tuple[str, ...]
    outputs: tuple[str, ...]
    starter_determined: tuple[bool, ...]
    answers: Mapping[str, str]
    report_text: str = ""
    fingerprint: Mapping[str, Any] = field(default_factory=dict)

    @property
    def model_from_starter(self) -> bool:
        """`model` was last defined or trained by a cell that only the starter decides."""
        defining = [i for i, c in enumerate(self.code_cells) if _MODEL_DEFINED.search(c)]
        return bool(defining) and self.starter_determined[defining[-1]]

    @classmethod
    def from_notebook(
        cls,
        student: str,
        notebook: Any,
        starter: Starter,
        *,
        fingerprint: Mapping[str, Any] | None = None,
        answers: Mapping[str, str] | None = None,
        report_text: str = "",
    ) -> ClassSubmission:
        cells = [c for c in notebook.cells if c.get("cell_type") == "code"]
        code = tuple(_source(c) for c in cells)
        determined: list[bool] = []
        prefix = True
        for source in code:
            prefix = prefix and normalised_code(source) in starter.normalised_cells
            determined.append(prefix)
        return cls(
            student=student,
            code_cells=code,
            outputs=tuple(_output_text(c) for c in cells),
            starter_determined=tuple(determined),
            answers=dict(answers if answers is not None else extract_answers(notebook)),
            report_text=report_text,
            fingerprint=dict(fingerprint or {}),
        )


def read_notebook_bytes(data: bytes) -> Any | None:
    """A stored executed notebook, or None when it cannot be read (nothing to compare)."""
    try:
        return nbformat.reads(data.decode("utf-8", "replace"), as_version=4)
    except Exception:  # an unreadable notebook is simply left out of the comparison
        return None


def iter_gradebook(
    path: Path | str, spec_fingerprint: str
) -> Iterator[tuple[str, dict[str, Any], bytes]]:
    """(student, result dict without figures, executed notebook) of each current grade.

    Read-only and row by row: figures are never loaded, so a class of hundreds
    stays small in memory. The newest grade wins when several seeds or grader
    versions graded the same submission, as in `Gradebook.current_grades`.
    """
    import zlib

    db = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True, timeout=30)
    try:
        rows = db.execute(
            "SELECT g.student, g.result_json, g.executed_notebook FROM grades g "
            "JOIN current c ON c.student = g.student AND c.submission_hash = g.submission_hash "
            "WHERE g.spec_fingerprint = ? ORDER BY g.student, g.graded_at DESC",
            (spec_fingerprint,),
        )
        seen: set[str] = set()
        for student, result_json, blob in rows:
            if student in seen:
                continue
            seen.add(student)
            yield student, json.loads(result_json), zlib.decompress(blob) if blob else b""
    finally:
        db.close()


def class_from_gradebook(
    path: Path | str,
    spec_fingerprint: str,
    starter: Starter,
    report_texts: Mapping[str, str] | None = None,
) -> list[ClassSubmission]:
    """Every current submission that has an executed notebook to compare."""
    submissions = []
    for student, result, notebook_bytes in iter_gradebook(path, spec_fingerprint):
        notebook = read_notebook_bytes(notebook_bytes) if notebook_bytes else None
        if notebook is None:
            log.info("%s: no executed notebook stored, left out of the comparison", student)
            continue
        details = result.get("details") or {}
        submissions.append(
            ClassSubmission.from_notebook(
                student,
                notebook,
                starter,
                fingerprint=details.get("integrity") or {},
                answers=details.get("answers") or None,
                report_text=(report_texts or {}).get(student, ""),
            )
        )
    return submissions


def pdf_text(path: Path) -> str:
    """The text of a PDF report, or "" when it cannot be read (pypdf is optional)."""
    try:
        from pypdf import PdfReader
    except ImportError:
        log.warning("pypdf is not installed: PDF reports are left out of the text comparison")
        return ""
    try:
        reader = PdfReader(str(path))
        return "\n".join((page.extract_text() or "") for page in reader.pages[:50])
    except Exception as exc:  # a broken PDF is the student's problem, not a reason to stop
        log.info("%s: PDF text unreadable (%s)", path, exc)
        return ""


def report_texts_from_folder(submissions: Path | str) -> dict[str, str]:
    """PDF report text per student for a `SUBMISSIONS/<student>/*.pdf` folder layout."""
    from grader.intake.discover import discover_submissions

    texts: dict[str, str] = {}
    root = Path(submissions)
    if not root.is_dir():
        return texts
    for submission in discover_submissions(root):
        if not submission.pdf_name:
            continue
        for candidate in (
            root / submission.student / submission.pdf_name,
            root / submission.pdf_name,
        ):
            if candidate.is_file():
                texts[submission.student] = pdf_text(candidate)
                break
    return texts
