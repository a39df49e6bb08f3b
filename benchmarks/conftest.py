"""Speed-ups of the reference code over the starter's loops, printed after the benchmark table.

pytest-benchmark times each function in its own test; the ratio of two of them is
what the assignment's claims are about ("150x faster"), so the tests record it here
and the terminal summary shows it where nobody has to dig through JSON for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Speedup:
    """How much faster the reference is than the starter on one task."""

    task: str
    starter_seconds: float
    reference_seconds: float
    target: float

    @property
    def ratio(self) -> float:
        return self.starter_seconds / self.reference_seconds

    def line(self) -> str:
        verdict = "meets" if self.ratio >= self.target else "BELOW"
        return (
            f"{self.task}: starter {self.starter_seconds:.3f} s, reference "
            f"{self.reference_seconds * 1000:.1f} ms -> {self.ratio:.0f}x "
            f"({verdict} target {self.target:.0f}x)"
        )


SPEEDUPS = pytest.StashKey[list[Speedup]]()


@pytest.fixture
def record_speedup(request: pytest.FixtureRequest) -> Callable[..., Speedup]:
    """Keep a measured speed-up for the summary at the end of the run, and return it."""

    def record(task: str, starter_seconds: float, reference_seconds: float, target: float):
        speedup = Speedup(task, starter_seconds, reference_seconds, target)
        request.config.stash.setdefault(SPEEDUPS, []).append(speedup)
        return speedup

    return record


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    speedups = config.stash.get(SPEEDUPS, [])
    if speedups:
        terminalreporter.section("speed-up over the starter (median times)")
        for speedup in speedups:
            terminalreporter.write_line(speedup.line())
