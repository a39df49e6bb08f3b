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
