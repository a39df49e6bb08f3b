"""Result types that flow from the checks to the reports and exports.

They are plain frozen dataclasses that serialise to JSON, because results cross
process boundaries (local pool, Dask workers) and are stored in the gradebook.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["ok", "errors", "timeout", "oom", "died", "invalid", "missing"]
CheckStatus = Literal["passed", "partial", "failed", "skipped", "manual", "error"]

STATUS_EXPLANATIONS: dict[str, str] = {
    "ok": "The notebook ran from top to bottom without errors.",
    "errors": "The notebook ran, but some cells raised errors; later cells still ran.",
    "timeout": "The notebook took longer than the time limit and was stopped.",
    "oom": "The notebook used more memory than the limit and was stopped.",
    "died": "The notebook's kernel died (it exited or crashed) before the end.",
    "invalid": "The submission could not be read as a Jupyter notebook.",
    "missing": "No notebook was found for this student.",
}


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: points, a sentence for the student, and evidence."""

    name: str
    title: str
    question: str
    points: float
    max_points: float
    status: CheckStatus
    message: str
    visibility: str = "public"
    kind: str = "auto"
    evidence: dict[str, Any] = field(default_factory=dict)
    traceback: str = ""
    """For a check that crashed (the grader's bug): where, for the instructor's log."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        return cls(**data)


@dataclass(frozen=True)
class CellRecord:
    """What happened in one code cell: for the report's timing and error sections."""

    index: int
    execution_count: int | None
    seconds: float | None
    status: Literal["ok", "error", "timeout", "not_run"]
    error_name: str = ""
    error_value: str = ""
    traceback: str = ""
    source_head: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StudentResult:
    """Everything known about one student's submission after grading."""

    student: str
    status: Status
    status_message: str
    checks: tuple[CheckResult, ...]
    cells: tuple[CellRecord, ...] = ()
    environment: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    submission_hash: str = ""
    notebook_name: str = ""
    figures: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def auto_score(self) -> float:
        return round(sum(c.points for c in self.checks if c.kind == "auto"), 4)

    @property
    def auto_max(self) -> float:
        return round(sum(c.max_points for c in self.checks if c.kind == "auto"), 4)

    @property
    def score(self) -> float:
        return round(sum(c.points for c in self.checks), 4)

    @property
    def max_score(self) -> float:
        return round(sum(c.max_points for c in self.checks), 4)

    def question_scores(self) -> dict[str, tuple[float, float]]:
        """(points, max points) per question, in question order."""
        totals: dict[str, list[float]] = {}
        for check in self.checks:
            entry = totals.setdefault(check.question, [0.0, 0.0])
            entry[0] += check.points
            entry[1] += check.max_points
        return {q: (round(p, 4), round(m, 4)) for q, (p, m) in totals.items()}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["score"] = self.score
        data["max_score"] = self.max_score
        data["auto_score"] = self.auto_score
        data["auto_max"] = self.auto_max
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StudentResult:
        return cls(
            student=data["student"],
            status=data["status"],
            status_message=data["status_message"],
            checks=tuple(CheckResult.from_dict(c) for c in data["checks"]),
            cells=tuple(CellRecord(**c) for c in data.get("cells", ())),
            environment=data.get("environment", {}),
            timings=data.get("timings", {}),
            submission_hash=data.get("submission_hash", ""),
            notebook_name=data.get("notebook_name", ""),
            figures=data.get("figures", {}),
            details=data.get("details", {}),
            notes=tuple(data.get("notes", ())),
        )
