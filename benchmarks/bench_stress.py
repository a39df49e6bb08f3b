"""Cost of the stress suite and mutation maps per submission: run as a script.

    python benchmarks/bench_stress.py [--repeat 3]

Scores one starter-like saved model (Conv1D 32 x 8, global max pool, dense) through
the real scoring process, with the spec's stress suite and mutation maps and without
them, and draws the report figures both ways. Prints the median of each and the
difference against the target (at most +3 s per submission on 2 cores).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.harvest.validate import Harvest, HarvestedModel  # noqa: E402
from grader.outputs.figures import student_figures  # noqa: E402
from grader.score.measure import score_submission  # noqa: E402
from grader.spec import load_spec, resolve_seed  # noqa: E402

TARGET_S = 3.0


def _saved_model(folder: Path) -> Path:
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(shape=(101, 4)),
            keras.layers.Conv1D(32, 8, activation="relu"),
            keras.layers.GlobalMaxPooling1D(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    path = folder / "model.keras"
    model.save(path)
    return path


def _one(harvest: Harvest, spec, seed, work: Path) -> float:
    started = time.monotonic()
    scores = score_submission(harvest, spec, seed, work / f"scorer-{time.monotonic_ns()}")
    student_figures(harvest, scores, spec, [])
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    spec = load_spec()
    seed = resolve_seed(spec)
    without = spec.model_copy(update={"stress": spec.stress.model_copy(update={"enabled": False})})
    work = Path(tempfile.mkdtemp(prefix="mg-bench-stress-"))
    harvest = Harvest(ran=True, models={"model": HarvestedModel(True, _saved_model(work))})
    _one(harvest, spec, seed, work)  # warm caches (hidden data, stress sets, imports)
    timings = {"with": [], "without": []}
    for _ in range(repeat):
        timings["without"].append(_one(harvest, without, seed, work))
        timings["with"].append(_one(harvest, spec, seed, work))
    with_s, without_s = (statistics.median(timings[k]) for k in ("with", "without"))
    print(f"scoring + figures without stress suite and maps: {without_s:6.2f} s")
    print(f"scoring + figures with stress suite and maps:    {with_s:6.2f} s")
    print(f"added per submission: {with_s - without_s:+.2f} s  (target <= +{TARGET_S:.0f} s)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
