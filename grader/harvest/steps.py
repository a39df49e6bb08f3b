"""A grader step: code the grader runs inside the student's kernel.

Kept apart from execution and harvest so that building steps (harvest) and running
them (execute) do not depend on each other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GraderStep:
    """Code the grader runs in the kernel (never shown to the student as a cell)."""

    name: str
    code: str
    timeout_s: float
