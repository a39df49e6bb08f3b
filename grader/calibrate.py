"""`motifgrader calibrate`: measure what the reference configurations reach.

Trains the reference model over several training seeds at every kernel width of the
sweep and every noise setting, and writes the distributions (mean, best, 95%
interval) that the claim checks compare students' reported numbers with. The
output has the shape of `reference/expectations.json`, so an instructor can review
it and copy it there. Training happens in the reference package, in this process:
the command is run by the instructor, never on students' code.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def calibrate(
    *,
    out: Path | str,
    seeds: int = 3,
    widths: tuple[int, ...] = (3, 4, 5, 6, 8, 11, 15),
    noise: bool = True,
    upper: bool = True,
) -> dict:
    """Measure over `seeds` training seeds and write the JSON to `out`; returns it."""
    if seeds < 1:
        raise ValueError("seeds must be at least 1")
    if not widths or any(w < 1 for w in widths):
        raise ValueError("widths must be positive kernel sizes")
    from reference.expectations import calibrate as measure

    log.info("calibrating over %d seeds, widths %s, noise %s", seeds, widths, noise)
    calibrated = measure(seeds=seeds, widths=tuple(widths), noise=noise, upper=upper)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(calibrated, indent=2) + "\n", encoding="utf-8")
    return calibrated
