"""The gradebook: every finished grade, every run, every hand-entered point, in SQLite.

A grade is stored the moment its job finishes, in its own transaction, with the
database in write-ahead-logging mode: killing the grader at any instant (SIGKILL
included) loses at most the jobs still running. A grade is keyed by what decides it
(student, the notebook's content hash, the spec's fingerprint, the grader's version
and the hidden seed's identity), so a re-run re-uses every grade whose key is
unchanged and executes only what is new. Hand-entered points for the written answers
live in their own table that the autograder never writes.

Only the coordinator opens the gradebook; workers return results to it. Keep the
file on a local disk: SQLite's locking is unreliable on network file systems.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from grader.checks.results import StudentResult

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    submissions TEXT NOT NULL,
    spec_fingerprint TEXT NOT NULL,
    grader_version TEXT NOT NULL,
    seed_kind TEXT NOT NULL,
    workers INTEGER NOT NULL,
    scheduler TEXT,
    graded INTEGER NOT NULL DEFAULT 0,
    reused INTEGER NOT NULL DEFAULT 0,
    isolation TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS grades (
    student TEXT NOT NULL,
    submission_hash TEXT NOT NULL,
    spec_fingerprint TEXT NOT NULL,
    grader_version TEXT NOT NULL,
    seed_id TEXT NOT NULL,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    graded_at TEXT NOT NULL,
    status TEXT NOT NULL,
    auto_score REAL NOT NULL,
    result_json TEXT NOT NULL,
    figures_json TEXT NOT NULL DEFAULT '{}',
    executed_notebook BLOB,
    PRIMARY KEY (student, submission_hash, spec_fingerprint, grader_version, seed_id)
);
CREATE TABLE IF NOT EXISTS current (
    student TEXT PRIMARY KEY,
    submission_hash TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS manual_grades (
    student TEXT NOT NULL,
    question TEXT NOT NULL,
    points REAL,
    comment TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL,
    PRIMARY KEY (student, question)
);
CREATE TABLE IF NOT EXISTS rubric_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    question TEXT NOT NULL,
    spec_id TEXT UNIQUE,
    position INTEGER NOT NULL,
    points REAL NOT NULL,
    comment TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    updated_by TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rubric_applied (
    student TEXT NOT NULL,
    question TEXT NOT NULL,
    item_id INTEGER NOT NULL REFERENCES rubric_items(id),
    PRIMARY KEY (student, question, item_id)
);
CREATE TABLE IF NOT EXISTS pdf_reports (
    student TEXT NOT NULL,
    submission_hash TEXT NOT NULL,
    name TEXT NOT NULL,
    pdf BLOB NOT NULL,
    stored_at TEXT NOT NULL,
    PRIMARY KEY (student, submission_hash)
);
"""
# Columns added to manual_grades after its first release, for the grading desk: an
# answer's points are its rubric items plus `adjustment`; `version` lets two graders
# notice each other's change (optimistic concurrency); `grader` says who saved last.
MANUAL_GRADE_COLUMNS = {
    "adjustment": "REAL NOT NULL DEFAULT 0",
    "grader": "TEXT NOT NULL DEFAULT ''",
    "version": "INTEGER NOT NULL DEFAULT 0",
}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextmanager
def immediate_transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, its lock taken at the start (BEGIN IMMEDIATE): a second
    writer (another TA, a grading run) waits for it instead of failing half way."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def seed_identity(material: str) -> str:
    """Which seed graded a result, without storing the secret itself."""
    return hashlib.sha256(b"motifgrader-seed-id\x00" + material.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class GradeKey:
    """Everything that decides a grade; an unchanged key means the grade still holds."""

    student: str
    submission_hash: str
    spec_fingerprint: str
    grader_version: str
    seed_id: str


@dataclass(frozen=True)
class StoredGrade:
    key: GradeKey
    result: StudentResult
    executed_notebook: bytes
    run_id: int
    graded_at: str


class Gradebook:
    """A SQLite gradebook at `path` (created on first use)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        self._db.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )
        self._add_manual_columns()
        self._add_run_isolation_column()

    def _add_run_isolation_column(self) -> None:
        """Gradebooks made before runs recorded their isolation get the column, empty."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(runs)")}
        if "isolation" not in columns:
            self._db.execute("ALTER TABLE runs ADD COLUMN isolation TEXT NOT NULL DEFAULT ''")

    def _add_manual_columns(self) -> None:
        """Bring a gradebook made before the desk up to date, keeping its hand grades."""
        with self._transaction() as db:
            present = {row[1] for row in db.execute("PRAGMA table_info(manual_grades)")}
            for name, declaration in MANUAL_GRADE_COLUMNS.items():
                if name not in present:
                    db.execute(f"ALTER TABLE manual_grades ADD COLUMN {name} {declaration}")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with immediate_transaction(self._db) as db:
            yield db

    # ------------------------------------------------------------------ runs

    def start_run(
        self,
        *,
        submissions: str,
        spec_fingerprint: str,
        grader_version: str,
        seed_kind: str,
        workers: int,
        scheduler: str | None = None,
        isolation: str = "",
    ) -> int:
        """Record a run; `isolation` says how its kernels were isolated (or that the
        instructor opted out), so an unisolated run stays visible in the gradebook."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO runs(started_at, submissions, spec_fingerprint, grader_version, "
                "seed_kind, workers, scheduler, isolation) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _now(),
                    submissions,
                    spec_fingerprint,
                    grader_version,
                    seed_kind,
                    workers,
                    scheduler,
                    isolation,
                ),
            )
            return int(cursor.lastrowid)

    def finish_run(self, run_id: int, *, graded: int, reused: int) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, graded = ?, reused = ? WHERE id = ?",
                (_now(), graded, reused, run_id),
            )

    def runs(self) -> list[dict[str, Any]]:
        cursor = self._db.execute("SELECT * FROM runs ORDER BY id")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    # ------------------------------------------------------------------ grades

    def find(self, key: GradeKey) -> StoredGrade | None:
        row = self._db.execute(
            "SELECT result_json, figures_json, executed_notebook, run_id, graded_at FROM grades "
            "WHERE "
            "student = ? AND submission_hash = ? AND spec_fingerprint = ? AND grader_version = ? "
            "AND seed_id = ?",
            (
                key.student,
                key.submission_hash,
                key.spec_fingerprint,
                key.grader_version,
                key.seed_id,
            ),
        ).fetchone()
        if row is None:
            return None
        return StoredGrade(
            key, _decode_result(row[0], row[1]), _decode_blob(row[2]), row[3], row[4]
        )

    def record(
        self, key: GradeKey, result: StudentResult, executed_notebook: bytes, run_id: int
    ) -> None:
        """Store one finished grade and make it the student's current one, atomically."""
        with self._transaction() as db:
            result_json, figures_json = _encode_result(result)
            db.execute(
                "INSERT OR REPLACE INTO grades VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key.student,
                    key.submission_hash,
                    key.spec_fingerprint,
                    key.grader_version,
                    key.seed_id,
                    run_id,
                    _now(),
                    result.status,
                    result.auto_score,
                    result_json,
                    figures_json,
                    zlib.compress(executed_notebook) if executed_notebook else None,
                ),
            )
            self._set_current(db, key)

    def mark_current(self, key: GradeKey) -> None:
        """A re-used grade becomes the student's current one (their latest submission)."""
        with self._transaction() as db:
            self._set_current(db, key)

    @staticmethod
    def _set_current(db: sqlite3.Connection, key: GradeKey) -> None:
        db.execute(
            "INSERT INTO current(student, submission_hash, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(student) DO UPDATE SET submission_hash = excluded.submission_hash, "
            "updated_at = excluded.updated_at",
            (key.student, key.submission_hash, _now()),
        )

    def current_grades(
        self,
        spec_fingerprint: str,
        grader_version: str | None = None,
        seed_id: str | None = None,
        *,
        full: bool = True,
    ) -> list[StoredGrade]:
        """Each student's grade for their current submission under this spec (newest first
        when several grader versions or seeds graded it).

        With `full=False` figures and executed notebooks are left out: the class summary
        of a large course then fits in a few megabytes.
        """
        extra = "g.figures_json, g.executed_notebook" if full else "'{}', NULL"
        query = (
            "SELECT g.student, g.submission_hash, g.spec_fingerprint, g.grader_version, g.seed_id, "
            f"g.result_json, {extra}, g.run_id, g.graded_at FROM grades g "
            "JOIN current c ON c.student = g.student AND c.submission_hash = g.submission_hash "
            "WHERE g.spec_fingerprint = ?"
        )
        args: list[Any] = [spec_fingerprint]
        if grader_version is not None:
            query += " AND g.grader_version = ?"
            args.append(grader_version)
        if seed_id is not None:
            query += " AND g.seed_id = ?"
            args.append(seed_id)
        query += " ORDER BY g.student, g.graded_at DESC"
        chosen: dict[str, StoredGrade] = {}
        for row in self._db.execute(query, args):
            if row[0] in chosen:
                continue
            key = GradeKey(*row[:5])
            chosen[row[0]] = StoredGrade(
                key, _decode_result(row[5], row[6]), _decode_blob(row[7]), row[8], row[9]
            )
        return list(chosen.values())

    def count_grades(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM grades").fetchone()[0])

    # ------------------------------------------------------------------ manual grades

    def set_manual(
        self, entries: Iterable[tuple[str, str, float | None, str]], *, grader: str = "sheet"
    ) -> int:
        """Upsert hand-entered (student, question, points, comment); returns how many.

        Points typed in here (the CSV sheet) win over the desk's rubric items: the
        difference is kept as the answer's adjustment, so a later rubric edit still
        moves the answer by that item's change. Clearing the points clears the items.
        """
        rows = [(s, q, p, c or "", _now()) for s, q, p, c in entries]
        with self._transaction() as db:
            for student, question, points, comment, now in rows:
                old = db.execute(
                    "SELECT points, comment FROM manual_grades WHERE student = ? AND question = ?",
                    (student, question),
                ).fetchone()
                if old is not None and (old[0], old[1]) == (points, comment):
                    continue
                if points is None:
                    db.execute(
                        "DELETE FROM rubric_applied WHERE student = ? AND question = ?",
                        (student, question),
                    )
                adjustment = 0.0 if points is None else points - _rubric_sum(db, student, question)
                if old is not None and old[0] == points:
                    adjustment = None  # only the comment changed: keep the adjustment
                db.execute(
                    "INSERT INTO manual_grades(student, question, points, comment, updated_at, "
                    "adjustment, grader, version) VALUES (?, ?, ?, ?, ?, COALESCE(?, 0), ?, 1) "
                    "ON CONFLICT(student, question) DO UPDATE SET "
                    "points = excluded.points, comment = excluded.comment, "
                    "updated_at = excluded.updated_at, grader = excluded.grader, "
                    "adjustment = COALESCE(?, manual_grades.adjustment), "
                    "version = manual_grades.version + 1",
                    (student, question, points, comment, now, adjustment, grader, adjustment),
                )
        return len(rows)

    def manual(self, student: str | None = None) -> dict[str, dict[str, dict[str, Any]]]:
        """{student: {question: {"points", "comment", "grader", "rubric": [{"points",
        "comment"}]}}}: the rubric items applied in the grading desk, for the reports."""
        query = "SELECT student, question, points, comment, grader FROM manual_grades"
        args: tuple = ()
        if student is not None:
            query += " WHERE student = ?"
            args = (student,)
        grades: dict[str, dict[str, dict[str, Any]]] = {}
        for s, q, points, comment, grader in self._db.execute(query, args):
            grades.setdefault(s, {})[q] = {
                "points": points,
                "comment": comment,
                "grader": grader,
                "rubric": [],
            }
        applied = (
            "SELECT a.student, a.question, i.points, i.comment FROM rubric_applied a "
            "JOIN rubric_items i ON i.id = a.item_id"
            + (" WHERE a.student = ?" if student is not None else "")
            + " ORDER BY a.student, a.question, i.position, i.id"
        )
        for s, q, points, comment in self._db.execute(applied, args):
            entry = grades.get(s, {}).get(q)
            if entry is not None:
                entry["rubric"].append({"points": points, "comment": comment})
        return grades

    # ------------------------------------------------------------------ PDF reports

    def store_pdf(self, student: str, submission_hash: str, name: str, data: bytes) -> None:
        """Keep a student's PDF report beside their grade, for the grading desk."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO pdf_reports VALUES (?, ?, ?, ?, ?)",
                (student, submission_hash, name, data, _now()),
            )

    def pdf_report(self, student: str) -> tuple[str, bytes] | None:
        """(file name, bytes) of the PDF sent with the student's current submission."""
        row = self._db.execute(
            "SELECT p.name, p.pdf FROM pdf_reports p LEFT JOIN current c "
            "ON c.student = p.student AND c.submission_hash = p.submission_hash "
            "WHERE p.student = ? ORDER BY c.student IS NULL, p.stored_at DESC LIMIT 1",
            (student,),
        ).fetchone()
        return (row[0], bytes(row[1])) if row else None


def _rubric_sum(db: sqlite3.Connection, student: str, question: str) -> float:
    """Points of the rubric items applied to one answer."""
    row = db.execute(
        "SELECT COALESCE(SUM(i.points), 0) FROM rubric_applied a "
        "JOIN rubric_items i ON i.id = a.item_id WHERE a.student = ? AND a.question = ?",
        (student, question),
    ).fetchone()
    return float(row[0])


def _encode_result(result: StudentResult) -> tuple[str, str]:
    """The result without its figures, and the figures apart (they are most of the bytes)."""
    data = result.to_dict()
    figures = data.pop("figures", {})
    return json.dumps(data), json.dumps(figures)


def _decode_result(text: str, figures: str) -> StudentResult:
    data = json.loads(text)
    data["figures"] = json.loads(figures or "{}")
    return StudentResult.from_dict(data)


def _decode_blob(blob: bytes | None) -> bytes:
    return zlib.decompress(blob) if blob else b""
