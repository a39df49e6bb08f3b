"""Does the notebook run from the top without errors."""

from __future__ import annotations

from grader.checks.registry import CheckContext, Outcome, check
from grader.checks.results import CellRecord


def describe_cell(cell: CellRecord) -> str:
    """How a student finds a cell: its first line, and its In [n] number when it ran."""
    count = f" (In [{cell.execution_count}])" if cell.execution_count else ""
    return f"the cell starting `{cell.source_head[:60]}`{count}"


@check("notebook_runs")
def notebook_runs(ctx: CheckContext) -> Outcome:
    code_cells = [c for c in ctx.cells]
    failing = [c for c in ctx.cells if c.status in ("error", "timeout")]
    evidence = {
        "status": ctx.execution_status,
        "failing_cells": [
            {"cell": c.index, "error": f"{c.error_name}: {c.error_value}"[:200]} for c in failing
        ],
    }
    if ctx.execution_status == "ok":
        return Outcome(1.0, "Every cell ran without an error.", evidence)
    if ctx.execution_status == "errors" and code_cells:
        good = sum(1 for c in code_cells if c.status == "ok")
        first = failing[0]
        return Outcome(
            ctx.spec.weights.notebook_runs_with_errors * good / len(code_cells),
            f"{len(failing)} of {len(code_cells)} code cells raised an error; the first is "
            f"{describe_cell(first)} ({first.error_name}: {first.error_value[:120]}). Fix it "
            "and re-run the notebook from the top (Kernel > Restart & Run All).",
            evidence,
        )
    return Outcome(0.0, ctx.execution_message, evidence)
