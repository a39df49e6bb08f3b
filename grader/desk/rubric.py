"""The rules of rubric grading, apart from storage and web pages.

An answer's points are the sum of its applied items plus an adjustment (what a
grader typed in beyond the items, e.g. through the CSV sheet), kept within
0..the question's points, so a deduction never makes a negative grade.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Keys that apply items, in item order: ten items per question can be reached with
# one key each, which covers the rubrics courses write for a short answer.
ITEM_KEYS = "1234567890"


def answer_points(item_points: Iterable[float], adjustment: float, maximum: float) -> float:
    """The answer's points from its applied items and adjustment, within 0..maximum."""
    return round(max(0.0, min(float(maximum), sum(item_points) + adjustment)), 4)


def item_key(position: int) -> str:
    """The key that applies the item at `position` (0-based), or "" past the tenth."""
    return ITEM_KEYS[position] if 0 <= position < len(ITEM_KEYS) else ""


@dataclass(frozen=True)
class RubricItem:
    """One item of a question's rubric, as stored in the gradebook."""

    id: int
    question: str
    position: int
    points: float
    comment: str
    version: int
    applied_count: int = 0

    @property
    def key(self) -> str:
        return item_key(self.position)


@dataclass(frozen=True)
class AnswerGrade:
    """What graders have decided about one answer; `version` 0 means never saved."""

    student: str
    question: str
    applied: frozenset[int] = frozenset()
    comment: str = ""
    adjustment: float = 0.0
    points: float | None = None
    grader: str = ""
    version: int = 0
    updated_at: str = ""

    @property
    def graded(self) -> bool:
        return self.points is not None
