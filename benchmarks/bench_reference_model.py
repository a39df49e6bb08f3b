"""Does the reference configuration meet its targets on every training seed?

Trains `REFERENCE_CONFIG` on the starter's data (4000 + 4000, seed 42, 80/10/10
split) once per training seed and prints, per seed, the test ROC AUC, whether
ACGTG is recovered (threshold-rule PWMs from the training sequences' first-layer
activations, best filter similarity >= the threshold and consensus ACGTG) and the
training time. The targets: ROC AUC >= 0.937 (the oracle reaches 0.9463 on this test
split), recovery in at least 9 of 10 seeds, training under 30 s on two cores.

    python benchmarks/bench_reference_model.py [--seeds 10] [--threads 2] [--starter]

A script, not a pytest file: training ten models takes a minute or two.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

AUC_TARGET = 0.937
RECOVERED_TARGET = 9
SECONDS_TARGET = 30.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="training seeds 0..N-1")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow threads")
    # The assignment spec's recovery_similarity; kept as an option so the spec rules.
    parser.add_argument("--threshold", type=float, default=0.9, help="recovery similarity")
    parser.add_argument(
        "--starter", action="store_true", help="benchmark the starter's settings instead"
    )
    args = parser.parse_args(argv)

    from reference.compare import best_filter, is_recovered
    from reference.data import STARTER_MOTIF
    from reference.experiments import fit, read_filters, starter_task
    from reference.oracle import oracle_evaluation
    from reference.train import REFERENCE_CONFIG, STARTER_CONFIG, configure_runtime

    configure_runtime(0, args.threads)
    config = STARTER_CONFIG if args.starter else REFERENCE_CONFIG
    task = starter_task()
    oracle = oracle_evaluation(task.codes_test, task.y_test, STARTER_MOTIF).roc_auc
    print(f"config: {config.to_dict()}")
    print(f"threads: {args.threads}; test oracle ROC AUC {oracle:.4f}; target >= {AUC_TARGET}")
    print(
        f"{'seed':>4} {'ROC AUC':>8} {'PR AUC':>7} {'sim':>6} {'consensus':>9} "
        f"{'recovered':>9} {'epochs':>6} {'train s':>8}"
    )
    aucs, recovered, seconds = [], [], []
    started = time.perf_counter()
    for seed in range(args.seeds):
        fitted = fit(task, config, seed=seed)
        filters = read_filters(fitted.model, task.X_train, task.codes_train)
        _, match = best_filter(filters.pwms, STARTER_MOTIF)
        ok = is_recovered(match, STARTER_MOTIF, args.threshold)
        aucs.append(fitted.evaluation.roc_auc)
        recovered.append(ok)
        seconds.append(fitted.training.seconds)
        print(
            f"{seed:>4} {fitted.evaluation.roc_auc:>8.4f} {fitted.evaluation.pr_auc:>7.4f} "
            f"{match.similarity:>6.3f} {match.consensus:>9} {'yes' if ok else 'no':>9} "
            f"{fitted.training.epochs_run:>6} {fitted.training.seconds:>8.1f}",
            flush=True,
        )
    n = len(aucs)
    above = sum(a >= AUC_TARGET for a in aucs)
    mean_seconds = sum(seconds) / n
    print(
        f"summary: ROC AUC mean {sum(aucs) / n:.4f}, min {min(aucs):.4f}, max {max(aucs):.4f}; "
        f">= {AUC_TARGET}: {above}/{n}; recovered {sum(recovered)}/{n}; "
        f"training s mean {mean_seconds:.1f}, max {max(seconds):.1f}; "
        f"wall {time.perf_counter() - started:.0f} s"
    )
    met = (
        above == n and sum(recovered) >= min(RECOVERED_TARGET, n) and max(seconds) < SECONDS_TARGET
    )
    print("targets met" if met else "targets NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
