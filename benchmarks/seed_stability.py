"""Do grades depend on training randomness? The solution and the starter over kernel seeds.

Grades the reference solution notebook and the unmodified starter once per kernel seed
(the public seed every student kernel starts with, `[assignment] kernel_seed` in a copy
of the spec), with one fixed secret, so only the students' own training varies. The
targets (issue "fair verdicts"): the solution scores at least 98 of its automatic points
on every seed, and the starter's grades fall in a band at most 5 points wide.

    python benchmarks/seed_stability.py [--seeds 10] [--workers 2] [--out DIR]

A script, not a pytest file: twenty notebooks train for about twenty minutes on two
cores. Prints one row per seed and the verdict; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SOLUTION_MIN = 98.0
STARTER_BAND = 5.0
FIRST_SEED = 1000


def _spec_with_kernel_seed(source: Path, folder: Path, seed: int) -> Path:
    text = source.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^(development_seed = .*)$", rf"\1\nkernel_seed = {seed}", text, count=1)
    path = folder / f"spec-{seed}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="kernel seeds to try")
    parser.add_argument("--workers", type=int, default=2, help="notebooks at a time")
    parser.add_argument("--out", type=Path, default=None, help="keep the outputs here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    from grader.batch import grade_folder
    from grader.spec import DEFAULT_SPEC_PATH

    notebooks = Path(__file__).resolve().parent.parent / "reference" / "notebooks"
    base = args.out or Path(tempfile.mkdtemp(prefix="mg-seeds-"))
    base.mkdir(parents=True, exist_ok=True)
    secret = base / "secret.txt"
    secret.write_text("seed-stability-secret\n", encoding="utf-8")
    rows = []
    print(f"{'kernel seed':>11}  {'solution':>8}  {'starter':>8}")
    for seed in range(FIRST_SEED, FIRST_SEED + args.seeds):
        submissions = base / f"submissions-{seed}"
        for name in ("solution", "starter"):
            (submissions / name).mkdir(parents=True, exist_ok=True)
            shutil.copy(notebooks / f"{name}.ipynb", submissions / name / "hw4.ipynb")
        spec = _spec_with_kernel_seed(DEFAULT_SPEC_PATH, base, seed)
        summary = grade_folder(
            submissions,
            base / f"out-{seed}",
            spec_path=spec,
            secret_file=secret,
            workers=args.workers,
        )
        scores = {r.student: r.auto_score for r in summary.results}
        totals = {r.student: r.auto_max for r in summary.results}
        row = {"seed": seed, **{k: scores[k] for k in ("solution", "starter")}}
        row["solution_percent"] = 100.0 * scores["solution"] / totals["solution"]
        rows.append(row)
        print(f"{seed:>11}  {row['solution_percent']:>7.2f}%  {row['starter']:>8.2f}")
    solution_low = min(r["solution_percent"] for r in rows)
    starters = [r["starter"] for r in rows]
    band = max(starters) - min(starters)
    verdict = {
        "seeds": args.seeds,
        "solution_min_percent": round(solution_low, 2),
        "starter_min": min(starters),
        "starter_max": max(starters),
        "starter_band": round(band, 2),
        "solution_target_met": solution_low >= SOLUTION_MIN,
        "starter_target_met": band <= STARTER_BAND,
        "rows": rows,
    }
    (base / "seed_stability.json").write_text(json.dumps(verdict, indent=2), encoding="utf-8")
    print(
        f"solution: lowest {solution_low:.2f}% of its automatic points (target >= {SOLUTION_MIN}); "
        f"starter: {min(starters):.2f}-{max(starters):.2f}, band {band:.2f} "
        f"(target <= {STARTER_BAND}); details in {base / 'seed_stability.json'}"
    )
    return 0 if verdict["solution_target_met"] and verdict["starter_target_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
