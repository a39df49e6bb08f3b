"""What the reference measured on the assignment's data, for graders and reports to cite.

The numbers live in `expectations.json` beside this file, written by
`python -m reference.expectations` from the reference experiments (several
training seeds per setting), so the grader can show a student's reported kernel
sweep beside what the reference reaches without training anything at grading time.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

EXPECTATIONS_PATH = Path(__file__).resolve().parent / "expectations.json"


@lru_cache(maxsize=1)
def load_expectations() -> dict:
    """The measured expectations; an empty dict when the file has not been generated."""
    if not EXPECTATIONS_PATH.is_file():
        return {}
    return json.loads(EXPECTATIONS_PATH.read_text(encoding="utf-8"))


def kernel_sweep_expectations() -> list[dict]:
    """Rows {"kernel_size", "roc_auc", "pr_auc"}: the reference's mean over seeds per width."""
    return list(load_expectations().get("kernel_sweep", []))


def measure(
    widths: tuple[int, ...] = (3, 4, 5, 6, 8, 11, 15),
    seeds: tuple[int, ...] = (0, 1, 2),
    recovery_threshold: float = 0.9,
) -> dict:
    """Train the reference model at each kernel width with "valid" padding, as the
    starter does, over several seeds, and average: what a student's sweep should show."""
    from reference.experiments import kernel_size_sweep, starter_task
    from reference.train import configure_runtime

    task = starter_task()
    per_width: dict[int, list] = {w: [] for w in widths}
    for seed in seeds:
        configure_runtime(seed, threads=2)
        answer = kernel_size_sweep(task, widths, recovery_threshold, paddings=("valid",), seed=seed)
        for row in answer.rows:
            per_width[row.kernel_size].append(row)
    rows = []
    for width, measured in per_width.items():
        rows.append(
            {
                "kernel_size": width,
                "roc_auc": round(sum(r.roc_auc for r in measured) / len(measured), 4),
                "pr_auc": round(min(1.0, sum(r.pr_auc for r in measured) / len(measured)), 4),
                "recovered_fraction": round(sum(r.recovered for r in measured) / len(measured), 3),
            }
        )
    return {
        "about": (
            "Reference model (reference.train.REFERENCE_CONFIG, padding 'valid') on the "
            "starter's split, mean over training seeds "
            + ", ".join(map(str, seeds))
            + ". Written by `python -m reference.expectations`."
        ),
        "kernel_sweep": rows,
    }


if __name__ == "__main__":
    EXPECTATIONS_PATH.write_text(json.dumps(measure(), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {EXPECTATIONS_PATH}")
