"""Similarity review: speed on a large class, and how well the spec's thresholds flag copies.

    .venv/bin/python benchmarks/bench_similarity.py --students 500      # speed (target < 60 s)
    .venv/bin/python benchmarks/bench_similarity.py --measure           # precision / recall

Speed: a gradebook of N synthetic executed notebooks (honest work plus planted copies,
tests/similarity_class.py) is written first (not timed); then `similarity_report`
runs as `motifgrader similarity` does, from reading the gradebook to writing the pages.

Measure: several synthetic classes plus the samples and the corpus, compared with the
spec's thresholds. Precision counts a flagged pair as right when both students belong
to one planted group (a source and its copies); recall is over the planted (copy,
source) pairs and the corpus twins; the false-positive rate is over pairs of
independently written honest submissions.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.checks.results import StudentResult  # noqa: E402
from grader.gradebook.store import Gradebook, GradeKey  # noqa: E402
from grader.integrity.rank import compare_class  # noqa: E402
from grader.integrity.run import similarity_report  # noqa: E402
from grader.integrity.sources import default_starter  # noqa: E402
from grader.spec import load_spec  # noqa: E402
from tests.similarity_class import build_class, repository_students  # noqa: E402


def speed(students: int) -> float:
    spec = load_spec()
    copies = max(1, students // 100)
    synthetic = build_class(students - 8 * copies - 2, copies_per_kind=copies, seed=7)
    with tempfile.TemporaryDirectory(prefix="bench-similarity-") as folder:
        book = Path(folder) / "gradebook.sqlite"
        with Gradebook(book) as gradebook:
            run_id = gradebook.start_run(
                submissions="bench",
                spec_fingerprint=spec.fingerprint,
                grader_version="bench",
                seed_kind="development",
                workers=1,
            )
            for student in synthetic.students:
                result = StudentResult(
                    student=student.name,
                    status="ok",
                    status_message="",
                    checks=(),
                    details={"integrity": student.fingerprint},
                )
                key = GradeKey(student.name, student.name, spec.fingerprint, "bench", "s")
                notebook = nbformat.writes(student.notebook).encode()
                gradebook.record(key, result, notebook, run_id)
        started, cpu = time.perf_counter(), time.process_time()
        summary = similarity_report(out_dir=folder)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"{summary.students} notebooks: {seconds:.1f} s end to end, {cpu:.1f} s of CPU "
        "(one process) "
        f"({summary.seconds:.1f} s comparing), {summary.flagged} pairs flagged, "
        f"{summary.clusters} clusters"
    )
    return seconds


def measure(classes: int, honest: int) -> None:
    spec = load_spec().similarity
    starter = default_starter()
    flagged_right = flagged_total = found = planted = 0
    honest_flagged = honest_pairs = 0
    honest_max = dict.fromkeys(("code", "text", "artefacts"), 0.0)
    copy_min = dict.fromkeys(("code", "text", "artefacts"), 1.0)
    for seed in range(classes):
        synthetic = build_class(honest, copies_per_kind=2, seed=100 + seed)
        members = synthetic.submissions(starter)
        repo, twins = repository_students(starter)
        result = compare_class(members + repo, starter, spec)
        groups = [*synthetic.groups, {name for pair in twins for name in pair}]
        truth = synthetic.true_pairs | twins
        flagged = {(p.a, p.b) for p in result.flagged}
        flagged_total += len(flagged)
        flagged_right += sum(any({a, b} <= g for g in groups) for a, b in flagged)
        found += len(truth & flagged)
        planted += len(truth)
        independent = [s.student for s in members + repo if not any(s.student in g for g in groups)]
        pairs = {tuple(sorted(p)) for p in combinations(independent, 2)}
        honest_pairs += len(pairs)
        honest_flagged += len(pairs & flagged)
        for pair in result.pairs:
            key = (pair.a, pair.b)
            for layer in ("code", "text", "artefacts"):
                if key in pairs:
                    honest_max[layer] = max(honest_max[layer], getattr(pair, layer))
                elif key in truth and layer in pair.flagged_layers:
                    copy_min[layer] = min(copy_min[layer], getattr(pair, layer))
        missed = sorted(truth - flagged)
        print(
            f"class {seed}: {len(members) + len(repo)} students, flagged {len(flagged)}, "
            f"missed {missed}"
        )
    print(
        f"precision {flagged_right / max(flagged_total, 1):.3f} ({flagged_right}/{flagged_total})"
    )
    print(f"highest layer scores of independent pairs: {honest_max}")
    print(f"lowest score of a copy in the layer that flagged it: {copy_min}")
    print(f"recall {found / max(planted, 1):.3f} ({found}/{planted})")
    print(
        f"false-positive rate on independent honest pairs {honest_flagged / honest_pairs:.2e} "
        f"({honest_flagged}/{honest_pairs})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--measure", action="store_true")
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--honest", type=int, default=150)
    args = parser.parse_args()
    if args.measure:
        measure(args.classes, args.honest)
    else:
        speed(args.students)
