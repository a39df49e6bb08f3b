"""Q6: the probes that show how two motifs combine, and the verdict read from them.

The answer key (`reference.experiments.interaction_experiment`) and the grader's
`interaction_captured` check both draw their probes and reach their verdict here, so
on the same mean scores they cannot disagree. Pure numpy: the grader's coordinator
imports it without TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from reference.data import implant
from reference.validation import InputError, check_motifs

#: The four probe sets: the same backgrounds with neither, one or both motifs.
INTERACTION_CONDITIONS = ("none", "A", "B", "A+B")


def uniform_backgrounds(n: int, seq_len: int, seed: int) -> np.ndarray:
    """`n` uniform random sequences (codes 0-3) of `seq_len` bases."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 4, size=(n, seq_len), dtype=np.uint8)


def non_overlapping_starts(
    rng: np.random.Generator, n: int, seq_len: int, lengths: Sequence[int]
) -> list[np.ndarray]:
    """Start positions for several motifs per row that never overlap, in random order."""
    free = seq_len - sum(lengths)
    if free < 0:
        raise InputError(f"motifs of lengths {list(lengths)} do not fit together in {seq_len}")
    offsets = np.sort(rng.integers(0, free + 1, size=(n, len(lengths))), axis=1)
    order = np.argsort(rng.random((n, len(lengths))), axis=1)
    sizes = np.array(lengths)[order]
    starts_in_order = offsets + np.cumsum(sizes, axis=1) - sizes
    starts = np.empty_like(starts_in_order)
    np.put_along_axis(starts, order, starts_in_order, axis=1)
    return [starts[:, j] for j in range(len(lengths))]


def interaction_probes(
    motifs: Sequence[str], n: int, seq_len: int, *, background_seed: int, placement_seed: int
) -> dict[str, np.ndarray]:
    """Uniform backgrounds with none / A / B / A+B implanted at fixed, non-overlapping places.

    All four sets share the backgrounds and the implant positions, so a difference in
    mean score is caused by the motifs alone. Two seeds, so that the grader can draw
    each from its own purpose-derived seed.
    """
    a, b = check_motifs("motifs", motifs)[:2]
    if len(a) + len(b) > seq_len:
        raise InputError(f"motifs {a} and {b} do not fit together in {seq_len} bases")
    background = uniform_backgrounds(n, seq_len, background_seed)
    rng = np.random.default_rng(placement_seed)
    start_a, start_b = non_overlapping_starts(rng, n, seq_len, [len(a), len(b)])
    with_a = implant(background, a, start_a)
    return {
        "none": background,
        "A": with_a,
        "B": implant(background, b, start_b),
        "A+B": implant(with_a, b, start_b),
    }


@dataclass(frozen=True)
class InteractionVerdict:
    """How far a model's mean outputs on the probes follow a rule.

    `gaps` are the differences the rule asks to be at least `margin`; each earns its
    share in proportion up to the margin, and the interaction is `captured` when every
    gap reaches it.
    """

    rule: str
    margin: float
    gaps: tuple[float, ...]
    shares: tuple[float, ...]

    @property
    def fraction(self) -> float:
        return sum(self.shares) / len(self.shares)

    @property
    def met(self) -> int:
        return sum(share >= 1.0 for share in self.shares)

    @property
    def captured(self) -> bool:
        return self.met == len(self.shares)


def interaction_gaps(mean_scores: Mapping[str, float], rule: str) -> tuple[float, ...]:
    """The gaps in mean probability that the rule ("all" or "xor") asks for."""
    s = mean_scores
    if rule == "all":
        # Both motifs together must do more than the sum of each alone: an additive model
        # (each motif adds a fixed step) also puts A+B highest, but captures no interaction.
        return (
            s["A+B"] - max(s["A"], s["B"]),
            s["A+B"] - s["none"],
            (s["A+B"] - s["none"]) - (s["A"] - s["none"]) - (s["B"] - s["none"]),
        )
    if rule == "xor":
        return (min(s["A"], s["B"]) - s["none"], min(s["A"], s["B"]) - s["A+B"])
    raise InputError(f"the interaction verdict needs rule 'all' or 'xor', got {rule!r}")


def interaction_verdict(
    mean_scores: Mapping[str, float], rule: str, margin: float
) -> InteractionVerdict:
    """The verdict on mean probabilities (not logits) on the four probe sets."""
    gaps = interaction_gaps(mean_scores, rule)
    # A ramp, not a cliff: each gap earns its share in proportion up to the margin.
    shares = tuple(
        min(max(gap / margin, 0.0), 1.0) if margin > 0 else float(gap >= 0) for gap in gaps
    )
    return InteractionVerdict(rule, margin, tuple(float(g) for g in gaps), shares)
