"""Hidden data: fresh draws from the assignment's generator with the instructor's seed.

Only the coordinator (or a grading worker it controls) calls this. The sequences go
to the scoring process as inputs; the labels never leave this side, and neither
does the seed. Generation is vectorised numpy, so it costs milliseconds and needs
no TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from grader.spec import AssignmentSpec, SeedInfo
from reference.data import (
    generate_multi_motif_dataset,
    generate_synthetic_codes,
    implant,
    split_dataset,
)
from reference.interaction import interaction_probes as reference_interaction_probes
from reference.interaction import uniform_backgrounds
from reference.metrics import Evaluation
from reference.oracle import multi_motif_oracle_scores, oracle_evaluation, oracle_scores


@dataclass(frozen=True)
class HiddenMain:
    """The main task's hidden dataset and the oracle's score on it."""

    codes: np.ndarray
    labels: np.ndarray
    oracle: Evaluation
    oracle_scores: np.ndarray


@dataclass(frozen=True)
class HiddenMulti:
    """Hidden multi-motif data for the student's declared motifs ("any" rule)."""

    motifs: tuple[str, ...]
    codes: np.ndarray
    labels: np.ndarray
    oracle: Evaluation
    single_sets: dict[str, np.ndarray]


@dataclass(frozen=True)
class InteractionProbes:
    """Background sequences with none / A / B / A+B implanted (same backgrounds)."""

    motifs: tuple[str, str]
    sets: dict[str, np.ndarray]


@lru_cache(maxsize=4)
def _main(seq_len: int, motif: str, motif_prob: float, num_pos: int, num_neg: int, seed: int):
    dataset = generate_synthetic_codes(num_pos, num_neg, seq_len, motif, motif_prob, seed)
    return dataset.codes, dataset.labels


def hidden_main(spec: AssignmentSpec, seed: SeedInfo, seq_len: int | None = None) -> HiddenMain:
    """The main hidden dataset: same generator and parameters, the secret seed.

    `seq_len` other than the spec's serves a model built for another fixed length:
    the same generator draws at that length, and the oracle is measured on that draw.
    """
    d = spec.data
    codes, labels = _main(
        seq_len or d.seq_len,
        d.motif,
        d.motif_prob,
        d.hidden_num_pos,
        d.hidden_num_neg,
        seed.derive("main"),
    )
    return HiddenMain(
        codes, labels, oracle_evaluation(codes, labels, d.motif), oracle_scores(codes, d.motif)
    )


@dataclass(frozen=True)
class PublicTest:
    """The assignment's own test split (seed 42, last 10%): what students report on."""

    codes: np.ndarray
    labels: np.ndarray
    oracle: Evaluation


def public_test(spec: AssignmentSpec) -> PublicTest:
    """Everyone has this data; re-measuring a claim on it needs no secret."""
    d = spec.data
    return _public_test(d.seq_len, d.motif, d.motif_prob, d.public_num_per_class, d.public_seed)


@lru_cache(maxsize=2)
def _public_test(
    seq_len: int, motif: str, motif_prob: float, num_per_class: int, seed: int
) -> PublicTest:
    """Split and oracle once per worker, not once per submission."""
    codes, labels = _main(seq_len, motif, motif_prob, num_per_class, num_per_class, seed)
    test = split_dataset(codes, labels).test
    return PublicTest(test[0], test[1], oracle_evaluation(test[0], test[1], motif))


def hidden_multi(
    spec: AssignmentSpec, seed: SeedInfo, motifs: list[str], seq_len: int
) -> HiddenMulti:
    """Multi-motif hidden data with the student's motifs, and one set per motif alone."""
    d = spec.data
    dataset = generate_multi_motif_dataset(
        d.multi_num_per_class,
        d.multi_num_per_class,
        seq_len,
        motifs,
        rule="any",
        co_occurrence=d.multi_co_occurrence,
        random_seed=seed.derive("multi"),
    )
    scores = multi_motif_oracle_scores(dataset.codes, motifs, "any", d.multi_co_occurrence)
    from reference.metrics import evaluate

    n = d.interaction_num_per_pattern
    background = uniform_backgrounds(n, seq_len, seed.derive("multi-single"))
    rng = np.random.default_rng(seed.derive("multi-single-starts"))
    singles = {"none": background}
    for i, motif in enumerate(motifs):
        starts = rng.integers(0, seq_len - len(motif) + 1, size=n)
        singles[f"only_{i}"] = implant(background, motif, starts)
    return HiddenMulti(
        tuple(motifs), dataset.codes, dataset.labels, evaluate(dataset.labels, scores), singles
    )


def interaction_probes(
    spec: AssignmentSpec, seed: SeedInfo, motifs: list[str], seq_len: int
) -> InteractionProbes:
    """The same background sequences with none, A, B, and A+B implanted."""
    a, b = motifs[0], motifs[1]
    sets = reference_interaction_probes(
        (a, b),
        spec.data.interaction_num_per_pattern,
        seq_len,
        background_seed=seed.derive("interaction"),
        placement_seed=seed.derive("interaction-starts"),
    )
    return InteractionProbes((a, b), sets)


def probe_dataset_arguments(seed: SeedInfo) -> dict:
    """Grader-chosen arguments for probing the student's generator.

    Derived from the seed through a hash, so they differ between courses but reveal
    nothing about the hidden data when the kernel sees them.
    """
    value = seed.derive("generator-probe")
    return {
        "num_pos": 5 + value % 11,
        "num_neg": 4 + (value // 11) % 9,
        "seq_len": 30 + (value // 99) % 40,
        "motif": ["TTAGG", "GATTACA", "CCGGA"][(value // 3960) % 3],
        "motif_prob": [0.5, 0.75, 1.0][(value // 11880) % 3],
        "random_seed": value % 100000,
    }
