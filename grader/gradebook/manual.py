"""Hand grading of the written answers: export a sheet, fill it in, import it back.

The sheet is a CSV with one row per student and question, holding the answer's text
so the instructor can grade without opening notebooks. Imported points go into the
gradebook's own table, which re-running the autograder never touches; reports and
exports then include them (`motifgrader report`).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from grader.gradebook.store import Gradebook
from grader.spec import AssignmentSpec

COLUMNS = ["student", "question", "max_points", "points", "comment", "answer"]


class ManualGradeError(ValueError):
    """The filled-in sheet has a problem; the message names the row."""


@dataclass(frozen=True)
class ImportSummary:
    imported: int
    cleared: int
    skipped_blank: int


def export_sheet(gradebook: Gradebook, spec: AssignmentSpec, path: Path) -> int:
    """Write the grading sheet; existing hand grades are pre-filled. Returns rows written."""
    manual = gradebook.manual()
    maxima = {c.question: c.points for c in spec.checks if c.kind == "manual"}
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for stored in sorted(
            gradebook.current_grades(spec.fingerprint), key=lambda g: g.key.student
        ):
            answers = stored.result.details.get("answers", {})
            for question, maximum in maxima.items():
                entered = manual.get(stored.key.student, {}).get(question, {})
                points = entered.get("points")
                writer.writerow(
                    [
                        stored.key.student,
                        question,
                        f"{maximum:g}",
                        "" if points is None else f"{points:g}",
                        entered.get("comment", ""),
                        answers.get(question, ""),
                    ]
                )
                rows += 1
    return rows


def import_sheet(gradebook: Gradebook, spec: AssignmentSpec, path: Path) -> ImportSummary:
    """Read a filled-in sheet and store its points; all rows are checked before any is saved."""
    maxima = {c.question: c.points for c in spec.checks if c.kind == "manual"}
    known = {g.key.student for g in gradebook.current_grades(spec.fingerprint)}
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    missing = {"student", "question", "points"} - set(reader.fieldnames or [])
    if missing:
        raise ManualGradeError(f"{path} lacks the column(s) {sorted(missing)}")
    entries, blank = [], 0
    for line, row in enumerate(reader, start=2):
        student, question = (row.get("student") or "").strip(), (row.get("question") or "").strip()
        if student not in known:
            raise ManualGradeError(f"line {line}: no graded student named {student!r}")
        if question not in maxima:
            raise ManualGradeError(f"line {line}: {question!r} is not a hand-graded question")
        raw = (row.get("points") or "").strip()
        comment = (row.get("comment") or "").strip()
        if not raw and not comment:
            blank += 1
            continue
        points = None
        if raw:
            try:
                points = float(raw)
            except ValueError as exc:
                raise ManualGradeError(f"line {line}: points {raw!r} is not a number") from exc
            if not 0 <= points <= maxima[question]:
                raise ManualGradeError(
                    f"line {line}: {points:g} points is outside 0..{maxima[question]:g} "
                    f"for {question}"
                )
        entries.append((student, question, points, comment))
    gradebook.set_manual(entries)
    cleared = sum(1 for e in entries if e[2] is None)
    return ImportSummary(len(entries) - cleared, cleared, blank)
