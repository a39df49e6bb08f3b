"""The desk's access to the gradebook: roster, rubric items, applied items, progress.

The desk serves several graders from one process (and graders may run their own
desk on the same gradebook), so every change is one `BEGIN IMMEDIATE` transaction
and every saved answer carries a version: a save based on an older version is
refused and the newer state handed back, so nobody's change is lost silently.
Hand grades stay in `manual_grades`, which the reports and the CSV sheet already
read; rubric items and the items applied to each answer have their own tables.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from grader.checks.results import StudentResult
from grader.desk.rubric import AnswerGrade, RubricItem, answer_points
from grader.gradebook.store import Gradebook, GradeKey, immediate_transaction
from grader.spec import AssignmentSpec


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RosterEntry:
    """A student as the desk shows them: `sid` is used in addresses, `label` on pages."""

    student: str
    sid: str
    label: str
    key: GradeKey
    result: StudentResult

    def answer(self, question: str) -> str:
        return str(self.result.details.get("answers", {}).get(question, ""))


@dataclass(frozen=True)
class SaveOutcome:
    """A save's result: `saved` False means someone else saved first (`grade` is theirs)."""

    saved: bool
    grade: AnswerGrade


@dataclass(frozen=True)
class ItemOutcome:
    saved: bool
    item: RubricItem
    rescored: int = 0


class DeskStore:
    """Rubric grading on the gradebook at `path`, for the questions `spec` hand-grades."""

    def __init__(self, path: Path | str, spec: AssignmentSpec, *, anonymous: bool = False) -> None:
        self.path = Path(path)
        self.spec = spec
        self.anonymous = anonymous
        self.maxima = {c.question: c.points for c in spec.checks if c.kind == "manual"}
        Gradebook(self.path).close()  # creates or upgrades the tables
        self._db = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA foreign_keys=ON")
        self._lock = threading.RLock()
        self._figures: dict[GradeKey, dict[str, str]] = {}
        self._seed_rubric()
        self._salt = self._anonymity_salt()
        self.roster: list[RosterEntry] = []
        self.reload_roster()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, immediate_transaction(self._db) as db:
            yield db

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()

    # ------------------------------------------------------------------ roster

    def _anonymity_salt(self) -> str:
        """One per gradebook, so every grader's desk hides names behind the same codes."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('desk_anonymity_salt', ?)",
                (secrets.token_hex(16),),
            )
            return db.execute(
                "SELECT value FROM meta WHERE key = 'desk_anonymity_salt'"
            ).fetchone()[0]

    def reload_roster(self) -> None:
        """Each student's current grade under this spec (newest when several exist)."""
        rows = self._query(
            "SELECT g.student, g.submission_hash, g.spec_fingerprint, g.grader_version, "
            "g.seed_id, g.result_json FROM grades g JOIN current c ON c.student = g.student "
            "AND c.submission_hash = g.submission_hash WHERE g.spec_fingerprint = ? "
            "ORDER BY g.student, g.graded_at DESC",
            (self.spec.fingerprint,),
        )
        entries: dict[str, RosterEntry] = {}
        for row in rows:
            if row[0] in entries:
                continue
            result = StudentResult.from_dict({**json.loads(row[5]), "figures": {}})
            if self.anonymous:
                code = hashlib.sha256(f"{self._salt}\x00{row[0]}".encode()).hexdigest()[:8]
                sid, label = code, f"Student {code[:4]}"
            else:
                sid, label = row[0], row[0]
            entries[row[0]] = RosterEntry(row[0], sid, label, GradeKey(*row[:5]), result)
        # Anonymous order follows the codes, so it does not reveal alphabetical order.
        ordered = sorted(entries.values(), key=lambda e: e.sid)
        with self._lock:
            self.roster = ordered
            self._by_sid = {e.sid: e for e in ordered}

    def entry(self, sid: str) -> RosterEntry | None:
        return self._by_sid.get(sid)

    def figures(self, entry: RosterEntry) -> dict[str, str]:
        """The student's figures (data URIs), read when first asked for."""
        cached = self._figures.get(entry.key)
        if cached is not None:
            return cached
        k = entry.key
        rows = self._query(
            "SELECT figures_json FROM grades WHERE student = ? AND submission_hash = ? "
            "AND spec_fingerprint = ? AND grader_version = ? AND seed_id = ?",
            (k.student, k.submission_hash, k.spec_fingerprint, k.grader_version, k.seed_id),
        )
        figures = json.loads(rows[0][0] or "{}") if rows else {}
        if len(self._figures) > 64:
            self._figures.clear()
        self._figures[entry.key] = figures
        return figures

    def pdf(self, entry: RosterEntry) -> tuple[str, bytes] | None:
        rows = self._query(
            "SELECT p.name, p.pdf FROM pdf_reports p LEFT JOIN current c "
            "ON c.student = p.student AND c.submission_hash = p.submission_hash "
            "WHERE p.student = ? ORDER BY c.student IS NULL, p.stored_at DESC LIMIT 1",
            (entry.student,),
        )
        return (rows[0][0], bytes(rows[0][1])) if rows else None

    # ------------------------------------------------------------------ rubric

    def _seed_rubric(self) -> None:
        """Copy the spec's rubric items into the gradebook once; the gradebook's win after."""
        with self._transaction() as db:
            for item in self.spec.rubric:
                position = db.execute(
                    "SELECT COALESCE(MAX(position) + 1, 0) FROM rubric_items WHERE question = ?",
                    (item.question,),
                ).fetchone()[0]
                db.execute(
                    "INSERT OR IGNORE INTO rubric_items(question, spec_id, position, points, "
                    "comment, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, 'spec', ?)",
                    (item.question, item.id, position, item.points, item.comment, _now()),
                )

    def rubric(self, question: str) -> list[RubricItem]:
        rows = self._query(
            "SELECT i.id, i.question, i.position, i.points, i.comment, i.version, "
            "(SELECT COUNT(*) FROM rubric_applied a WHERE a.item_id = i.id) "
            "FROM rubric_items i WHERE i.question = ? ORDER BY i.position, i.id",
            (question,),
        )
        return [RubricItem(*row) for row in rows]

    def add_item(self, question: str, points: float, comment: str, grader: str) -> RubricItem:
        with self._transaction() as db:
            position = db.execute(
                "SELECT COALESCE(MAX(position) + 1, 0) FROM rubric_items WHERE question = ?",
                (question,),
            ).fetchone()[0]
            cursor = db.execute(
                "INSERT INTO rubric_items(question, position, points, comment, updated_by, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (question, position, points, comment, grader, _now()),
            )
            item_id = int(cursor.lastrowid)
        return next(i for i in self.rubric(question) if i.id == item_id)

    def edit_item(
        self, item_id: int, *, points: float, comment: str, version: int, grader: str
    ) -> ItemOutcome:
        """Change an item and re-score every answer that has it, in one transaction."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT question, version FROM rubric_items WHERE id = ?", (item_id,)
            ).fetchone()
            if row is None:
                raise KeyError(item_id)
            question, current = row
            if current != version:
                saved = False
                rescored = 0
            else:
                db.execute(
                    "UPDATE rubric_items SET points = ?, comment = ?, version = version + 1, "
                    "updated_by = ?, updated_at = ? WHERE id = ?",
                    (points, comment, grader, _now(), item_id),
                )
                affected = [
                    r[0]
                    for r in db.execute(
                        "SELECT student FROM rubric_applied WHERE item_id = ?", (item_id,)
                    )
                ]
                for student in affected:
                    self._rescore(db, student, question)
                saved, rescored = True, len(affected)
        item = next(i for i in self.rubric(question) if i.id == item_id)
        return ItemOutcome(saved, item, rescored)

    def _rescore(self, db: sqlite3.Connection, student: str, question: str) -> None:
        item_points = [
            r[0]
            for r in db.execute(
                "SELECT i.points FROM rubric_applied a JOIN rubric_items i ON i.id = a.item_id "
                "WHERE a.student = ? AND a.question = ?",
                (student, question),
            )
        ]
        adjustment = db.execute(
            "SELECT adjustment FROM manual_grades WHERE student = ? AND question = ?",
            (student, question),
        ).fetchone()
        points = answer_points(
            item_points, adjustment[0] if adjustment else 0.0, self.maxima[question]
        )
        db.execute(
            "UPDATE manual_grades SET points = ?, updated_at = ? "
            "WHERE student = ? AND question = ?",
            (points, _now(), student, question),
        )

    # ------------------------------------------------------------------ answers

    def grade(self, student: str, question: str) -> AnswerGrade:
        with self._lock:
            return self._grade(self._db, student, question)

    @staticmethod
    def _grade(db: sqlite3.Connection, student: str, question: str) -> AnswerGrade:
        row = db.execute(
            "SELECT comment, adjustment, points, grader, version, updated_at FROM manual_grades "
            "WHERE student = ? AND question = ?",
            (student, question),
        ).fetchone()
        applied = frozenset(
            r[0]
            for r in db.execute(
                "SELECT item_id FROM rubric_applied WHERE student = ? AND question = ?",
                (student, question),
            )
        )
        if row is None:
            return AnswerGrade(student, question, applied)
        return AnswerGrade(student, question, applied, *row)

    def save(
        self,
        student: str,
        question: str,
        *,
        applied: Iterable[int],
        comment: str,
        adjustment: float,
        version: int,
        grader: str,
    ) -> SaveOutcome:
        """Store one answer's items, comment and adjustment, unless it changed meanwhile."""
        wanted = frozenset(applied)
        with self._transaction() as db:
            current = self._grade(db, student, question)
            if current.version != version:
                return SaveOutcome(False, current)
            items = {
                r[0]: r[1]
                for r in db.execute(
                    "SELECT id, points FROM rubric_items WHERE question = ?", (question,)
                )
            }
            unknown = wanted - items.keys()
            if unknown:
                raise KeyError(f"rubric items {sorted(unknown)} are not items of {question}")
            db.execute(
                "DELETE FROM rubric_applied WHERE student = ? AND question = ?",
                (student, question),
            )
            db.executemany(
                "INSERT INTO rubric_applied(student, question, item_id) VALUES (?, ?, ?)",
                [(student, question, i) for i in sorted(wanted)],
            )
            points = answer_points((items[i] for i in wanted), adjustment, self.maxima[question])
            db.execute(
                "INSERT INTO manual_grades(student, question, points, comment, updated_at, "
                "adjustment, grader, version) VALUES (?, ?, ?, ?, ?, ?, ?, 1) "
                "ON CONFLICT(student, question) DO UPDATE SET points = excluded.points, "
                "comment = excluded.comment, updated_at = excluded.updated_at, "
                "adjustment = excluded.adjustment, grader = excluded.grader, "
                "version = manual_grades.version + 1",
                (student, question, points, comment, _now(), adjustment, grader),
            )
            return SaveOutcome(True, self._grade(db, student, question))

    def grades_for(self, question: str) -> dict[str, AnswerGrade]:
        """Every saved grade of one question, by student (for walking and progress)."""
        rows = self._query(
            "SELECT student, comment, adjustment, points, grader, version, updated_at "
            "FROM manual_grades WHERE question = ?",
            (question,),
        )
        return {r[0]: AnswerGrade(r[0], question, frozenset(), *r[1:]) for r in rows}

    # ------------------------------------------------------------------ progress

    def progress(self) -> list[dict[str, Any]]:
        """Per question: answers graded of the class, and how many each grader saved last."""
        students = {e.student for e in self.roster}
        rows = self._query(
            "SELECT question, student, grader FROM manual_grades WHERE points IS NOT NULL"
        )
        summary = []
        for question in self.maxima:
            graded = [(s, g) for q, s, g in rows if q == question and s in students]
            by_grader: dict[str, int] = {}
            for _, grader in graded:
                by_grader[grader or "—"] = by_grader.get(grader or "—", 0) + 1
            summary.append(
                {
                    "question": question,
                    "graded": len(graded),
                    "total": len(students),
                    "answered": sum(1 for e in self.roster if e.answer(question).strip()),
                    "by_grader": dict(sorted(by_grader.items())),
                    "max_points": self.maxima[question],
                }
            )
        return summary
