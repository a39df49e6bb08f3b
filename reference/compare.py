"""How well a filter's PWM matches a known motif, as defined for this assignment.

Similarity is the Pearson correlation between the motif's one-hot matrix and the
filter PWM laid over it, over the motif's full length, maximised over ungapped
offsets and both strands. Motif columns the filter does not cover count as a uniform
column, so a filter that sees only 4 of 5 bases cannot score 1 (it scores about
0.89), while a wider filter that contains the whole motif can. A motif is
"recovered" when the best similarity reaches the threshold and the aligned
consensus spells the motif. Thresholds are arguments: they belong to the spec.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from reference.encode import reverse_complement, seqs_to_codes
from reference.validation import DNA_ALPHABET, InputError, check_array, check_motif


@dataclass(frozen=True)
class MotifMatch:
    """The best alignment of one filter PWM against one motif.

    `offset` is where the filter's first column lies relative to the motif's first
    column (negative: the filter starts before the motif), on strand `strand`
    ("+" the PWM as is, "-" its reverse complement).
    """

    similarity: float
    offset: int
    strand: str
    consensus: str
    aligned: np.ndarray

    def recovers(self, motif: str, threshold: float) -> bool:
        return is_recovered(self, motif, threshold)


def motif_matrix(motif: str) -> np.ndarray:
    """(k, 4) one-hot matrix of a motif."""
    codes = seqs_to_codes([check_motif("motif", motif)])[0]
    matrix = np.zeros((codes.size, 4))
    matrix[np.arange(codes.size), codes] = 1.0
    return matrix


def reverse_complement_pwm(pwm: np.ndarray) -> np.ndarray:
    """Reverse complement of a (w, 4) PWM in ACGT column order."""
    return np.asarray(pwm)[::-1, ::-1]


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = a.ravel() - a.mean()
    b = b.ravel() - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


def motif_similarity(pwm: np.ndarray, motif: str) -> MotifMatch:
    """Best Pearson similarity of `pwm` to `motif` over offsets and strands."""
    pwm = check_array("pwm", pwm, ndim=2, last_dim=4, finite=True).astype(float)
    target = motif_matrix(motif)
    k, w = target.shape[0], pwm.shape[0]
    best: MotifMatch | None = None
    for strand, oriented in (("+", pwm), ("-", reverse_complement_pwm(pwm))):
        for offset in range(-(w - 1), k):
            aligned = np.full((k, 4), 0.25)
            lo, hi = max(0, offset), min(k, offset + w)
            aligned[lo:hi] = oriented[lo - offset : hi - offset]
            score = _pearson(aligned, target)
            if best is None or score > best.similarity + 1e-12:
                best = MotifMatch(score, offset, strand, _consensus(aligned), aligned)
    assert best is not None
    return best


CONSENSUS_MAJORITY = 0.5


def _consensus(aligned: np.ndarray) -> str:
    """The majority base per column; a column where no base passes half reads 'N'.

    A majority, not just the most frequent base: a near-uniform column with a faint
    preference (a filter that does not see that position) must not spell a base.
    That matters here because ACGT is its own reverse complement, so a filter that
    learned `?ACGT` lines up with ACGTG on the other strand with only `?` to decide.
    """
    letters = []
    for column in aligned:
        top = int(np.argmax(column))
        letters.append(DNA_ALPHABET[top] if column[top] > CONSENSUS_MAJORITY else "N")
    return "".join(letters)


def is_recovered(match: MotifMatch, motif: str, threshold: float) -> bool:
    """Similarity at least `threshold` and the majority consensus spells the motif."""
    motif = check_motif("motif", motif)
    return match.similarity >= threshold and match.consensus in (motif, reverse_complement(motif))


def similarity_matrix(pwms: Sequence[np.ndarray] | np.ndarray, motifs: Sequence[str]) -> np.ndarray:
    """(n_filters, n_motifs) similarities: the heatmap of multi-motif specialisation."""
    return np.array([[motif_similarity(p, m).similarity for m in motifs] for p in pwms]).reshape(
        len(pwms), len(motifs)
    )


def best_filter(pwms: Sequence[np.ndarray] | np.ndarray, motif: str) -> tuple[int, MotifMatch]:
    """Index and match of the filter most similar to `motif`."""
    if len(pwms) == 0:
        raise InputError("there are no filter PWMs to compare with the motif")
    matches = [motif_similarity(p, motif) for p in pwms]
    index = int(np.argmax([m.similarity for m in matches]))
    return index, matches[index]


def assign_filters(similarities: np.ndarray) -> list[int]:
    """One distinct filter per motif maximising total similarity (Hungarian algorithm).

    Returns, for each motif (column), the filter index (row) assigned to it; with
    fewer filters than motifs the unassigned motifs get -1.
    """
    similarities = check_array("similarities", similarities, ndim=2, finite=True)
    rows, cols = linear_sum_assignment(-similarities)
    assignment = [-1] * similarities.shape[1]
    for r, c in zip(rows, cols, strict=True):
        assignment[int(c)] = int(r)
    return assignment


@dataclass(frozen=True)
class MotifAssignment:
    """Q5's reading of a model's filters: one distinct filter per motif, and whether that
    filter recovers its motif. The answer key and the grader both call `assign_motifs`."""

    similarities: np.ndarray
    assignment: tuple[int, ...]
    matches: tuple[MotifMatch | None, ...]
    recovered: tuple[bool, ...]

    @property
    def distinct_filters(self) -> bool:
        return len({f for f in self.assignment if f >= 0}) == len(self.assignment)


def assign_motifs(
    pwms: Sequence[np.ndarray] | np.ndarray, motifs: Sequence[str], threshold: float
) -> MotifAssignment:
    """Match filters to motifs one to one (most similar in total), then judge each pair."""
    similarities = similarity_matrix(pwms, motifs)
    assignment = tuple(assign_filters(similarities))
    matches = tuple(
        motif_similarity(pwms[f], m) if f >= 0 else None
        for f, m in zip(assignment, motifs, strict=True)
    )
    recovered = tuple(
        bool(match is not None and is_recovered(match, motif, threshold))
        for match, motif in zip(matches, motifs, strict=True)
    )
    return MotifAssignment(similarities, assignment, matches, recovered)


def shared_run(a: str, b: str) -> int:
    """Length of the longest run of bases `a` shares with `b` or its reverse complement."""
    a, b = check_motif("a", a), check_motif("b", b)
    best = 0
    for other in (b, reverse_complement(b)):
        # Classic longest-common-substring table, one row at a time: motifs are short.
        previous = [0] * (len(other) + 1)
        for x in a:
            current = [0] * (len(other) + 1)
            for j, y in enumerate(other, start=1):
                if x == y:
                    current[j] = previous[j - 1] + 1
                    best = max(best, current[j])
            previous = current
    return best


def motifs_overlap(a: str, b: str, min_shared: int = 4) -> bool:
    """Whether two motifs are too alike to count as different motifs, on either strand.

    They overlap when one contains the other, or when they share a run of all but one
    base of the shorter motif (and at least `min_shared` bases): a filter for one then
    also fires on the other, so a model would "respond" to both without having
    learnt two motifs.
    """
    shorter = min(len(a), len(b))
    needed = min(shorter, max(min_shared, shorter - 1))
    return shared_run(a, b) >= needed
